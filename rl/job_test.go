package rl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/vulkan/vulkantest"
	"github.com/dllmrl/agrpo/rl/dist"
	"github.com/dllmrl/agrpo/rl/dist/disttest"
)

// The data-parallel tests start this test binary as the ranks of an MPI job (TestJobRank), on
// this machine's loopback, and compare the job's run folder with a one-process run's.

// jobConfig is the tiny run of the job tests: 5 prompts (RL) or 16 examples (SFT), which
// 2 and 3 ranks share unevenly, μ = 2, and an evaluation whose batches (5) do not line up with
// the ranks' shares of its 8 problems.
func jobConfig(method, dir string, steps int) Config {
	c := smallConfig(dir)
	c.Train.Method, c.Train.Steps, c.Train.LogEvery, c.Train.CheckpointEvery, c.Train.EvalEvery = methodNamed(method), steps, 1, 2, 3
	c.RL.Prompts, c.RL.Group, c.RL.Iterations = 5, 4, 2
	c.Eval.BatchSize = 5
	if method == "agrpo" {
		c.RL.Rollout.MixedSteps = []int{7, 3}
	}
	return c
}

// TestJobRank is one rank of a job the other tests start; run directly, it has nothing to do.
func TestJobRank(t *testing.T) {
	if os.Getenv(disttest.Helper) != "train" {
		t.Skip("a rank of the MPI jobs that TestJob* start")
	}
	job, err := dist.Open()
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := strconv.Atoi(os.Getenv("AGRPO_JOB_STEPS"))
	cfg := jobConfig(os.Getenv("AGRPO_JOB_METHOD"), os.Getenv("AGRPO_JOB_DIR"), steps)
	odd := os.Getenv("AGRPO_JOB_ODD_RANK") == strconv.Itoa(job.Rank())
	if odd && os.Getenv("AGRPO_JOB_POISON") == "" {
		cfg.Train.LR *= 2
	}
	var b core.Backend = cpu.New()
	if os.Getenv("AGRPO_JOB_DEVICE") == "vulkan" {
		b = vulkantest.Open(t)
	}
	var tr *Trainer
	if resume := os.Getenv("AGRPO_JOB_RESUME"); resume != "" {
		tr, err = ResumeJob(job, resume, nil, b, io.Discard)
	} else {
		tr, err = NewJobRun(job, cfg, nil, b, io.Discard)
	}
	if poison, _ := strconv.Atoi(os.Getenv("AGRPO_JOB_POISON")); err == nil && odd && poison > 0 {
		// This rank's weights turn NaN after step poison, as a faulty device's might.
		tr.OnStep = func(st StepInfo) {
			if st.Step == poison {
				m := tr.Model
				v := make([]float32, m.P.WTE.Len())
				m.B.Download(m.P.WTE, v)
				v[0] = float32(math.NaN())
				m.B.Upload(m.P.WTE, v)
			}
		}
	}
	if err == nil {
		err = tr.Run(context.Background())
	}
	if err != nil {
		dist.Fail(job, 1, err)
	}
	if err := job.Close(); err != nil {
		t.Fatal(err)
	}
}

// oneProcess runs jobConfig on one process, without MPI, on b (nil: the CPU backend) and
// returns the folder holding its run.
func oneProcess(t *testing.T, method string, steps int, b core.Backend) string {
	t.Helper()
	dir := t.TempDir()
	if b == nil {
		b = cpu.New()
	}
	tr, err := NewRun(jobConfig(method, dir, steps), nil, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runJob runs TestJobRank on n ranks to its end.
func runJob(t *testing.T, n int, env ...string) string {
	t.Helper()
	out, err := disttest.Run(t, n, 5*time.Minute, "TestJobRank", "train", append(env, "GOMAXPROCS=1")...)
	if err != nil {
		t.Fatalf("mpirun -np %d: %v\n%s", n, err, out)
	}
	return out
}

// relTol is how far a logged number of an N-rank job may be from the one-process run's,
// relative to the larger of the two (absolute below 1e-6): the float sums differ in order.
const relTol = 1e-5

// paramTol bounds the largest parameter difference, relative to the largest parameter, after
// the tests' runs: measured 4e-9 to 3e-7 (float32 sums in another order, carried by Adam).
const paramTol = 1e-5

// TestJobEqualsOneProcess: SFT, AGRPO and diffu-GRPO on 2 and 3 ranks log the same losses,
// rewards, accuracies and evaluations as on one process, within relTol, and end with the same
// parameters within paramTol. Rank 0 alone writes the run folder.
func TestJobEqualsOneProcess(t *testing.T) {
	disttest.Mpirun(t)
	for _, method := range []string{"sft", "agrpo", "diffu-grpo"} {
		t.Run(method, func(t *testing.T) {
			one := oneProcess(t, method, 6, nil)
			for _, n := range []int{2, 3} {
				dir := t.TempDir()
				runJob(t, n, "AGRPO_JOB_METHOD="+method, "AGRPO_JOB_DIR="+dir, "AGRPO_JOB_STEPS=6")
				compareRuns(t, fmt.Sprintf("%s on %d ranks", method, n), filepath.Join(one, "t"), filepath.Join(dir, "t"))
			}
		})
	}
}

// compareRuns checks that run folder b logged what a did, within relTol, and holds the same
// final model within paramTol.
func compareRuns(t *testing.T, what, a, b string) {
	t.Helper()
	ra, rb := metricRecords(t, a), metricRecords(t, b)
	if len(ra) != len(rb) {
		t.Fatalf("%s: %d metric records, one process %d", what, len(rb), len(ra))
	}
	timing := []string{"rollout_s", "update_s", "tokens_per_s", "wall_s", "allreduce_s", "ranks"}
	compared := 0
	for i := range ra {
		for k, va := range ra[i] {
			if slices.Contains(timing, k) {
				continue
			}
			vb, ok := rb[i][k]
			if !ok {
				t.Fatalf("%s: record %d has no %s", what, i, k)
			}
			if math.Abs(va-vb) > relTol*max(math.Abs(va), math.Abs(vb), 0.1) {
				t.Errorf("%s: record %d (step %g): %s = %.9g, one process %.9g", what, i, ra[i]["step"], k, vb, va)
			}
			compared++
		}
	}
	pa := readTensors(t, filepath.Join(a, ModelFile))
	pb := readTensors(t, filepath.Join(b, ModelFile))
	var worst, scale float64
	for name, x := range pa.Tensors {
		va, _ := x.Float32()
		vb, err := pb.Tensors[name].Float32()
		if err != nil || len(va) != len(vb) {
			t.Fatalf("%s: tensor %s: %v", what, name, err)
		}
		for i := range va {
			worst = max(worst, math.Abs(float64(va[i]-vb[i])))
			scale = max(scale, math.Abs(float64(va[i])))
		}
	}
	if worst > paramTol*scale {
		t.Errorf("%s: parameters differ by up to %.3g (largest |θ| %.3g)", what, worst, scale)
	}
	t.Logf("%s: %d logged numbers within %g relative, parameters within %.3g of the largest (|θ| ≤ %.3g)", what, compared, relTol, worst/scale, scale)
}

// metricRecords flattens a run's metrics.jsonl: one map per record, evaluations as
// eval/<steps>/<field>.
func metricRecords(t *testing.T, dir string) []map[string]float64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		flat := map[string]float64{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			switch x := v.(type) {
			case float64:
				flat[prefix] = x
			case map[string]any:
				for k, y := range x {
					walk(prefix+"/"+k, y)
				}
			case []any:
				for i, y := range x {
					walk(prefix+"/"+strconv.Itoa(i), y)
				}
			}
		}
		for k, v := range rec {
			walk(k, v)
		}
		out = append(out, flat)
	}
	return out
}

// TestJobRefusesDifferentConfigs: a rank started with another config than rank 0's stops the
// job before any step, naming that rank.
func TestJobRefusesDifferentConfigs(t *testing.T) {
	disttest.Mpirun(t)
	dir := t.TempDir()
	out, err := disttest.Run(t, 3, time.Minute, "TestJobRank", "train", "AGRPO_JOB_METHOD=sft", "AGRPO_JOB_DIR="+dir,
		"AGRPO_JOB_STEPS=4", "AGRPO_JOB_ODD_RANK=2", "GOMAXPROCS=1")
	if err == nil || !strings.Contains(out, "rank 2 has another config than rank 0") {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "t", CheckpointFile)); err == nil {
		t.Error("the refused job wrote a checkpoint")
	}
}

// TestJobRankFails: a rank whose rollouts turn non-finite in the middle of a job (its weights
// poisoned after step 3) ends the whole job, naming itself, the step and the cause, with the
// step-2 checkpoint kept.
func TestJobRankFails(t *testing.T) {
	disttest.Mpirun(t)
	dir := t.TempDir()
	out, err := disttest.Run(t, 3, 2*time.Minute, "TestJobRank", "train", "AGRPO_JOB_METHOD=agrpo", "AGRPO_JOB_DIR="+dir,
		"AGRPO_JOB_STEPS=8", "AGRPO_JOB_ODD_RANK=1", "AGRPO_JOB_POISON=3", "GOMAXPROCS=1")
	ck := filepath.Join(dir, "t", CheckpointFile)
	want := "rank 1 of 3 failed: step 4: sampler: the model's logits are not finite"
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "the last good checkpoint (step 2) is kept in "+ck) {
		t.Fatalf("%v; want %q and the checkpoint kept in\n%s", err, want, out)
	}
	if step := readTensors(t, ck).Metadata["step"]; step != "2" {
		t.Errorf("checkpoint at step %s, want 2", step)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, want) {
			t.Log(line)
		}
	}
}

// TestJobRankKilled: a rank killed in the middle of a job ends the whole job within a bounded
// time, naming the rank; the last checkpoint stays, and the run resumed on another number of
// ranks (1 and 3) ends as the uninterrupted one-process run does.
func TestJobRankKilled(t *testing.T) {
	disttest.Mpirun(t)
	const steps = 8
	one := oneProcess(t, "agrpo", steps, nil)
	for _, resumeOn := range []int{1, 3} {
		dir := t.TempDir()
		run := filepath.Join(dir, "t")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := disttest.Command(ctx, t, 2, "TestJobRank", "train", "AGRPO_JOB_METHOD=agrpo", "AGRPO_JOB_DIR="+dir,
			"AGRPO_JOB_STEPS="+strconv.Itoa(steps), "GOMAXPROCS=1")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill rank 1 once rank 0 has logged step 3 (a checkpoint was written at step 2).
		var killed time.Time
		for killed.IsZero() {
			if ctx.Err() != nil {
				t.Fatalf("the job never reached step 3:\n%s", out.String())
			}
			if recs := tryRecords(run); len(recs) > 0 && recs[len(recs)-1]["step"] >= 3 {
				pid := rankPID(t, 1, dir)
				proc, err := os.FindProcess(pid)
				if err == nil {
					err = proc.Kill() // SIGKILL
				}
				if err != nil {
					t.Fatal(err)
				}
				killed = time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
		err := cmd.Wait()
		took := time.Since(killed)
		if err == nil || ctx.Err() != nil {
			t.Fatalf("the job after its rank 1 was killed: %v (context %v)\n%s", err, ctx.Err(), out.String())
		}
		if !strings.Contains(out.String(), "rank 1") || took > 30*time.Second {
			t.Fatalf("the job ended %v after the kill (%v), its output not naming rank 1:\n%s", took, err, out.String())
		}
		t.Logf("rank 1 killed: the job ended %v later (%v)", took.Round(time.Millisecond), err)
		saved := readTensors(t, filepath.Join(run, CheckpointFile)).Metadata["step"]
		if s, _ := strconv.Atoi(saved); s < 2 || s >= steps {
			t.Fatalf("checkpoint kept at step %s", saved)
		}
		if resumeOn == 1 {
			tr, err := Resume(run, nil, cpu.New(), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		} else {
			runJob(t, resumeOn, "AGRPO_JOB_RESUME="+run)
		}
		compareRuns(t, fmt.Sprintf("killed at step 3 on 2 ranks, resumed from step %s on %d", saved, resumeOn), filepath.Join(one, "t"), run)
	}
}

// tryRecords is metricRecords of a run that may not have written any yet.
func tryRecords(dir string) []map[string]float64 {
	raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil
	}
	var out []map[string]float64
	for _, line := range strings.Split(string(raw), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if s, ok := rec["step"].(float64); ok {
				out = append(out, map[string]float64{"step": s})
			}
		}
	}
	return out
}

// rankPID finds the process of rank r of the job whose ranks have AGRPO_JOB_DIR=dir.
func rankPID(t *testing.T, r int, dir string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		env := strings.Split(string(raw), "\x00")
		if slices.Contains(env, "AGRPO_JOB_DIR="+dir) && slices.Contains(env, "OMPI_COMM_WORLD_RANK="+strconv.Itoa(r)) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatalf("no process of rank %d of the job in %s", r, dir)
	return 0
}
