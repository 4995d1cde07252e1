package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/rl"
)

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "train -config configs/FILE.toml | -resume RUNDIR", stderr)
	config := fs.String("config", "", "run config (TOML; configs/README.md lists the keys)")
	resume := fs.String("resume", "", "run folder to continue from its last checkpoint")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*config == "") == (*resume == "") {
		fmt.Fprintln(stderr, "demo train: give exactly one of -config or -resume")
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := cpu.New()
	var tr *rl.Trainer
	var err error
	if *config != "" {
		cfg, err := rl.LoadConfig(*config)
		if err != nil {
			return err
		}
		if tr, err = rl.NewRun(cfg, b, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "run %s: %s on %s, %d steps, backend %s\n", tr.Dir, cfg.Task.Name, modelSummary(tr), cfg.Train.Steps, b.Name())
	} else {
		if tr, err = rl.Resume(*resume, b, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "resuming %s at step %d of %d\n", tr.Dir, tr.Step, tr.Cfg.Train.Steps)
	}
	err = tr.Run(ctx)
	if errors.Is(err, rl.ErrInterrupted) {
		fmt.Fprintf(stderr, "\ninterrupted at step %d; checkpoint saved. Continue with:\n  go run ./demo train -resume %s\n", tr.Step, tr.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s (model %s/%s, metrics %s/%s)\n", tr.Dir, tr.Dir, rl.ModelFile, tr.Dir, rl.MetricsFile)
	return nil
}

func modelSummary(tr *rl.Trainer) string {
	c := tr.Model.Cfg
	return fmt.Sprintf("d_model %d × %d layers (%.2f M params)", c.DModel, c.Layers, float64(c.NumParams())/1e6)
}
