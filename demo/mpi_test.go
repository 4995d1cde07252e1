package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
