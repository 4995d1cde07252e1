package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dllmrl/agrpo/rl"
)

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "train -config configs/FILE.toml | -resume RUNDIR", stderr)
	config := fs.String("config", "", "run config (TOML; configs/README.md lists the keys)")
	resume := fs.String("resume", "", "run folder to continue from its last checkpoint")
	device := fs.String("device", "", deviceHelp+" (default: the config's run.device)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*config == "") == (*resume == "") {
		fmt.Fprintln(stderr, "demo train: give exactly one of -config or -resume")
		return errUsage
	}
	var cfg rl.Config
	var err error
	if *config != "" {
		cfg, err = rl.LoadConfig(*config)
	} else {
		cfg, err = rl.LoadConfig(filepath.Join(*resume, rl.ConfigFile))
	}
	if err != nil {
		return refused(err)
	}
	if *device == "" {
		*device = cfg.Run.Device
	}
	b, why, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	var tr *rl.Trainer
	if *config != "" {
		if tr, err = rl.NewRun(cfg, b, stderr); err != nil {
			return refused(err)
		}
		fmt.Fprintf(stderr, "run %s: %s on %s, %d steps\ndevice: %s\n", tr.Dir, cfg.Task.Name, modelSummary(tr), cfg.Train.Steps, why)
	} else {
		if tr, err = rl.Resume(*resume, b, stderr); err != nil {
			return refused(err)
		}
		fmt.Fprintf(stderr, "resuming %s at step %d of %d\ndevice: %s\n", tr.Dir, tr.Step, tr.Cfg.Train.Steps, why)
	}
	ctx, stop := interruptible(stderr)
	defer stop()
	err = tr.Run(ctx)
	if errors.Is(err, rl.ErrInterrupted) {
		fmt.Fprintf(stderr, "\ninterrupted at step %d; checkpoint saved. Continue with:\n  go run ./demo train -resume %s\n", tr.Step, tr.Dir)
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s (model %s/%s, metrics %s/%s)\n", tr.Dir, tr.Dir, rl.ModelFile, tr.Dir, rl.MetricsFile)
	return nil
}

// interruptible is a context cancelled by the first Ctrl-C (or SIGTERM), which then lets the run
// save its checkpoint; a second one ends the process at once, as the signal's default does.
// The returned function releases the signal.
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop()
			fmt.Fprintln(stderr, "\ninterrupt: saving a checkpoint after this step (interrupt again to stop at once)")
		case <-done:
		}
	}()
	return ctx, func() { close(done); stop() }
}

func modelSummary(tr *rl.Trainer) string {
	c := tr.Model.Cfg
	return fmt.Sprintf("d_model %d × %d layers (%.2f M params)", c.DModel, c.Layers, float64(c.NumParams())/1e6)
}
