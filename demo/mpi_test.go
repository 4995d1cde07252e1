package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/dist/disttest"
)

// TestTrainMPI: `mpirun -np 2 demo train` runs one job whose rank 0 alone prints and writes the
// run folder; it resumes on 3 ranks; and a config the job cannot run (fewer examples than
// ranks) is refused with exit status 2, every rank naming itself and the key.
func TestTrainMPI(t *testing.T) {
	disttest.Mpirun(t)
	dir := t.TempDir()
	write := func(name string, batch int) string {
		p := filepath.Join(dir, name+".toml")
		os.WriteFile(p, []byte("[run]\nname = \""+name+"\"\nout_dir = \""+dir+"\"\ndevice = \"cpu\"\n[task]\nname = \"arithmetic\"\n"+
			"[model]\nd_model = 16\nn_layers = 1\nn_heads = 2\nmlp_hidden_size = 16\n"+
			"[train]\nsteps = 3\nbatch_size = "+strconv.Itoa(batch)+"\nwarmup_steps = 1\nlog_every = 1\n[eval]\nn = 4\nsteps = [7]\n"), 0o644)
		return p
	}
	job := func(n int, args string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := disttest.Command(ctx, t, n, "", "demo", "DEMO_ARGS="+args, "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := job(2, "train -config "+write("tiny", 8))
	if err != nil || strings.Count(out, "done: ") != 1 || strings.Count(out, "step 3/3") != 1 || !strings.Contains(out, "rank 0 of 2; data-parallel") {
		t.Fatalf("mpirun -np 2 demo train: %v\n%s", err, out)
	}
	for _, f := range []string{"config.toml", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "eval.json", "curves.png"} {
		if _, err := os.Stat(filepath.Join(dir, "tiny", f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	if out, err := job(3, "train -resume "+filepath.Join(dir, "tiny")); err != nil || !strings.Contains(out, "resuming") {
		t.Errorf("mpirun -np 3 demo train -resume: %v\n%s", err, out)
	}
	out, err = job(3, "train -config "+write("few", 2))
	if code := exitCode(err); code != exitUsage || !strings.Contains(out, "of 3 failed: train.batch_size = 2 is less than the job's 3 ranks") {
		t.Errorf("a batch smaller than the job: exit %d (%v)\n%s", code, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "few")); err == nil {
		t.Error("the refused job created its run folder")
	}
}

// exitCode is the exit status an error of exec.Cmd.Run carries (0 for none, −1 for another).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return -1
}

// TestEvalMPI: `mpirun -np N demo eval` splits the problems over the ranks and prints, from
// rank 0 alone, the results of one process (sampled at T > 0 in batches that the shares cut
// through, so each row must keep its random stream).
func TestEvalMPI(t *testing.T) {
	disttest.Mpirun(t)
	args := "eval -ckpt sudoku-base -task sudoku -n 23 -steps 16,4 -temperature 0.6 -seed 5 -batch 10 -device cpu -json"
	code, one, stderr := runDemo(strings.Fields(args)...)
	if code != 0 {
		t.Fatalf("demo %s: exit %d: %s", args, code, stderr)
	}
	want := decodeEval(t, one)
	for _, n := range []int{2, 3} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := disttest.Command(ctx, t, n, "", "demo", "DEMO_ARGS="+args, "GOMAXPROCS=1")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("mpirun -np %d demo eval: %v\n%s%s", n, err, out.String(), errb.String())
		}
		if lines := strings.Count(out.String(), "\n"); lines != 1 {
			t.Errorf("mpirun -np %d demo eval printed %d lines, want rank 0's one:\n%s", n, lines, out.String())
		}
		got := decodeEval(t, out.String())
		if n == 2 {
			// Rank 0's progress counts its own share: 12 of the 23 problems at 2 step counts.
			cmd := disttest.Command(context.Background(), t, n, "", "demo", "DEMO_ARGS="+strings.TrimSuffix(args, " -json"), "GOMAXPROCS=1")
			text, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(text), " 24/24") || strings.Contains(string(text), "/46") {
				t.Errorf("mpirun -np 2 demo eval does not split the problems (rank 0 should do 24 of 46 samples): %v\n%s", err, text)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("np %d: %d results, want %d", n, len(got), len(want))
		}
		for i := range want {
			w, g := want[i], got[i]
			if g.Steps != w.Steps || g.N != w.N || math.Abs(g.Accuracy-w.Accuracy) > 1e-12 || math.Abs(g.CellAccuracy-w.CellAccuracy) > 1e-12 ||
				math.Abs(g.MeanReward-w.MeanReward) > 1e-9*math.Abs(w.MeanReward) {
				t.Errorf("np %d at %d steps: %+v, one process %+v", n, w.Steps, g, w)
			}
		}
	}
}

// decodeEval reads the results of `demo eval -json`.
func decodeEval(t *testing.T, out string) []rl.EvalResult {
	t.Helper()
	var r struct{ Results []rl.EvalResult }
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Results) == 0 {
		t.Fatalf("demo eval -json: %v\n%s", err, out)
	}
	return r.Results
}

// TestTrainMPIInterrupt: Ctrl-C on mpirun (SIGINT), started with a kill grace longer than a
// step (odls_base_sigkill_timeout), and SIGUSR1 on mpirun without it, each save the checkpoint
// on rank 0 at the step every rank stopped after, and the job resumes from it.
func TestTrainMPIInterrupt(t *testing.T) {
	disttest.Mpirun(t)
	for _, c := range []struct {
		sig os.Signal
		env []string
	}{
		{os.Interrupt, []string{"OMPI_MCA_odls_base_sigkill_timeout=10"}},
		{jobStopSignals[0], nil}, // SIGUSR1
	} {
		dir, cfg := slowRun(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := disttest.Command(ctx, t, 2, "", "demo", append([]string{"DEMO_ARGS=train -config " + cfg, "GOMAXPROCS=1"}, c.env...)...)
		log := signalOnLines(t, cmd, func(line string) {
			if strings.HasPrefix(line, "step 1/") {
				cmd.Process.Signal(c.sig)
			}
		})
		cmd.Wait()
		cancel()
		var step int
		out := log.String()
		if _, err := fmt.Sscanf(out[max(0, strings.Index(out, "interrupted at step")):], "interrupted at step %d", &step); err != nil || step < 1 {
			t.Fatalf("%v on mpirun did not report a checkpoint: %v\n%s", c.sig, err, out)
		}
		tr, err := rl.Resume(filepath.Join(dir, "slow"), nil, cpu.New(), io.Discard)
		if err != nil {
			t.Fatalf("resume after %v: %v", c.sig, err)
		}
		if tr.Step != step {
			t.Errorf("%v: the checkpoint is at step %d, the job said it stopped at %d", c.sig, tr.Step, step)
		}
	}
}
