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
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/vulkan"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/dist"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/schollz/progressbar/v3"
)

// runTrain runs `demo train`, as one rank of a data-parallel job when mpirun started it: rank 0
// writes the run folder and prints.
func runTrain(args []string, stdout, stderr io.Writer) error {
	return asJob(train, args, stdout, stderr)
}

// asJob runs a command that can be one rank of a data-parallel job (`mpirun -np N demo …`):
// outside mpirun it runs alone; inside, it joins the job, only rank 0 prints, and a rank that
// fails ends the whole job (MPI_Abort) with its rank and cause, so that no rank waits for it.
func asJob(run func(job dist.Comm, args []string, stdout, stderr io.Writer) error, args []string, stdout, stderr io.Writer) error {
	if !dist.Launched() {
		return run(dist.Single{}, args, stdout, stderr)
	}
	job, err := dist.Open()
	if err != nil {
		return refused(fmt.Errorf("started by mpirun, but cannot join the job: %w", err))
	}
	if job.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	err = run(job, args, stdout, stderr)
	if err != nil && !errors.Is(err, rl.ErrInterrupted) {
		code := exitFailed
		if u := (usageError{}); errors.Is(err, errUsage) || errors.As(err, &u) {
			code = exitUsage
		}
		dist.Fail(job, code, err)
	}
	if cerr := job.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func train(job dist.Comm, args []string, stdout, stderr io.Writer) error {
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
	b, why, closeBackend, err := openRankBackend(job, *device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	ranks := ""
	if job.Size() > 1 {
		ranks = fmt.Sprintf(" (rank 0 of %d; data-parallel)", job.Size())
	}
	var tr *rl.Trainer
	if *config != "" {
		if tr, err = rl.NewJobRun(job, cfg, models.Shipped, b, stderr); err != nil {
			return refused(err)
		}
		fmt.Fprintf(stderr, "run %s: %s on %s, %d steps\ndevice: %s%s\n", tr.Dir, cfg.Task.Name, modelSummary(tr), cfg.Train.Steps, why, ranks)
	} else {
		if tr, err = rl.ResumeJob(job, *resume, models.Shipped, b, stderr); err != nil {
			return refused(err)
		}
		fmt.Fprintf(stderr, "resuming %s at step %d of %d\ndevice: %s%s\n", tr.Dir, tr.Step, tr.Cfg.Train.Steps, why, ranks)
	}
	// mpirun answers Ctrl-C with SIGTERM to the ranks and kills them after its grace (1 s unless
	// raised), but passes SIGUSR1 on: `kill -USR1 <mpirun's pid>` checkpoints the job and stops it.
	var also []os.Signal
	if job.Size() > 1 {
		also = append(also, jobStopSignals...)
		if g := dist.KillGrace(); g < minKillGrace {
			fmt.Fprintf(stderr, "note: mpirun kills the ranks %v after a Ctrl-C, likely before a step ends and saves; "+
				"start it with --mca odls_base_sigkill_timeout %d to make Ctrl-C checkpoint, or stop with kill -USR1 <mpirun's pid>\n",
				g, int(minKillGrace.Seconds()))
		}
	}
	ctx, stop := interruptible(stderr, also...)
	defer stop()
	var finish func()
	tr.OnStep, finish = trainDisplay(stderr, tr.Cfg.Train.Steps, tr.Step)
	err = tr.Run(ctx)
	finish()
	if err == nil && job.Rank() == 0 {
		var note string
		if _, note, err = plotRun(tr.Dir); note != "" {
			fmt.Fprintln(stderr, note)
		}
	}
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

// trainDisplay shows a run's progress on w: a bar on a terminal, else one line per step logged
// to metrics.jsonl. It returns the trainer's OnStep and a function to call after the run.
func trainDisplay(w io.Writer, steps, from int) (onStep func(rl.StepInfo), finish func()) {
	if isTerminal(w) {
		bar := progressbar.NewOptions(steps, progressbar.OptionSetWriter(w),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond))
		bar.Set(from)
		return func(st rl.StepInfo) {
				bar.Describe(st.Summary)
				bar.Set(st.Step)
			}, func() {
				bar.Finish()
				fmt.Fprintln(w)
			}
	}
	start, tokens := time.Now(), 0
	return func(st rl.StepInfo) {
		tokens += st.Tokens
		if st.Logged {
			fmt.Fprintf(w, "step %d/%d  %s  grad %.3f  lr %.2e  %.0f tok/s\n", st.Step, st.Steps, st.Summary, st.GradNorm, st.LR,
				float64(tokens)/time.Since(start).Seconds())
		}
	}, func() {}
}

// minKillGrace is the grace after Ctrl-C under mpirun below which `demo train` warns that
// Ctrl-C will not checkpoint: a few steps of a large model.
const minKillGrace = 30 * time.Second

// interruptible is a context cancelled by the first Ctrl-C (or SIGTERM, or one of also), which
// then lets the run save its checkpoint; a second one ends the process at once, as the signal's
// default does. The returned function releases the signals.
func interruptible(stderr io.Writer, also ...os.Signal) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), append([]os.Signal{os.Interrupt, syscall.SIGTERM}, also...)...)
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

// openRankBackend is openBackend for one rank of a job: with -device auto on a node with
// several Vulkan GPUs, the rank takes GPU number <its rank on the node>, so that the node's
// ranks spread over its GPUs; otherwise (one GPU, a CPU, an explicit device) as openBackend.
func openRankBackend(job dist.Comm, device string, stderr io.Writer) (core.Backend, string, func(), error) {
	if job.Size() > 1 && device == "auto" {
		local := dist.LocalRank()
		if vb, err := vulkan.New(vulkan.Options{Device: local}); err == nil {
			if _, kind := vb.Device(); kind != "cpu" {
				return vb, fmt.Sprintf("%s (vulkan:%d, this rank's index on its node)", vb.Name(), local), vb.Close, nil
			}
			vb.Close()
		}
	}
	return openBackend(device, stderr)
}

func modelSummary(tr *rl.Trainer) string {
	c := tr.Model.Cfg
	return fmt.Sprintf("d_model %d × %d layers (%.2f M params)", c.DModel, c.Layers, float64(c.NumParams())/1e6)
}
