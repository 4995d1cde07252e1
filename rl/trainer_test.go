package rl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// smallConfig is a run small enough for tests: a 2-layer d=32 model on arithmetic.
func smallConfig(dir string) Config {
	c := DefaultConfig()
	c.Run = RunConfig{Name: "t", OutDir: dir, Seed: 3, Device: "cpu"}
	c.Task.Name = "arithmetic"
	c.Model = ModelConfig{DModel: 32, Layers: 2, Heads: 2, MLPHidden: 64, RopeTheta: 10000, NormEps: 1e-5}
	c.Train.Steps, c.Train.BatchSize, c.Train.WarmupSteps = 12, 16, 3
	c.Train.Schedule, c.Train.LogEvery, c.Train.CheckpointEvery = "cosine", 2, 5
	c.Eval = EvalConfig{N: 8, Steps: []int{7}, Remasking: "low_confidence", BatchSize: 8}
	return c
}

// TestResumeIsExact: a run interrupted after step 5 and resumed ends with the same parameters,
// bit for bit, and the same logged losses as an uninterrupted run — for SFT and both RL methods.
func TestResumeIsExact(t *testing.T) {
	for _, method := range []string{"sft", "agrpo", "diffu-grpo"} {
		t.Run(method, func(t *testing.T) { testResume(t, method) })
	}
}

func testResume(t *testing.T, method string) {
	cfg := func(dir string) Config {
		c := smallConfig(dir)
		c.Train.Method = method
		c.RL.Prompts, c.RL.Group, c.RL.Iterations = 3, 4, 2
		if method == "agrpo" {
			c.RL.Rollout.MixedSteps = []int{7, 3} // the cycle must resume where it stopped
		}
		return c
	}
	straightDir, splitDir := t.TempDir(), t.TempDir()
	var log bytes.Buffer
	straight, err := NewRun(cfg(straightDir), cpu.New(), &log)
	if err != nil {
		t.Fatal(err)
	}
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	first, err := NewRun(cfg(splitDir), cpu.New(), &log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	first.OnStep = func(st StepInfo) {
		if st.Step == 5 {
			cancel()
		}
	}
	if err := first.Run(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	if _, err := NewRun(cfg(splitDir), cpu.New(), &log); err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("starting over an existing run: %v", err)
	}
	second, err := Resume(filepath.Join(splitDir, "t"), cpu.New(), &log)
	if err != nil {
		t.Fatal(err)
	}
	if second.Step != 5 {
		t.Fatalf("resumed at step %d, want 5", second.Step)
	}
	if err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := readTensors(t, filepath.Join(straightDir, "t", CheckpointFile))
	b := readTensors(t, filepath.Join(splitDir, "t", CheckpointFile))
	for name, ta := range a.Tensors {
		if !bytes.Equal(ta.Data, b.Tensors[name].Data) {
			t.Errorf("%s differs between the straight and the resumed run", name)
		}
	}
	if a.Metadata["rng"] != b.Metadata["rng"] || a.Metadata["step"] != "12" {
		t.Errorf("trainer state differs: %v vs %v", a.Metadata, b.Metadata)
	}
	if la, lb := losses(t, filepath.Join(straightDir, "t")), losses(t, filepath.Join(splitDir, "t")); la != lb {
		t.Errorf("logged losses differ:\n%s\n%s", la, lb)
	}
}

// TestNaNStopsKeepingCheckpoint: a diverging run stops with a message naming the step, and the
// checkpoint on disk is the last good one.
func TestNaNStopsKeepingCheckpoint(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	var log bytes.Buffer
	tr, err := NewRun(c, cpu.New(), &log)
	if err != nil {
		t.Fatal(err)
	}
	tr.OnStep = func(st StepInfo) {
		if st.Step == 5 { // poison a weight right after the step-5 checkpoint is due
			m := tr.Model
			v := make([]float32, m.P.WTE.Len())
			m.B.Download(m.P.WTE, v)
			v[0] = float32(nanValue())
			m.B.Upload(m.P.WTE, v)
		}
	}
	err = tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "step 6") || !strings.Contains(err.Error(), "last good checkpoint") {
		t.Fatalf("Run returned %v", err)
	}
	ck := readTensors(t, filepath.Join(dir, "t", CheckpointFile))
	if ck.Metadata["step"] != "5" {
		t.Fatalf("checkpoint at step %s, want the last good one (5)", ck.Metadata["step"])
	}
}

// TestMixedSteps: RL step i samples its rollouts with mixed_steps[i mod n] steps, and a step
// count the answer length cannot honour is refused before the run folder exists.
func TestMixedSteps(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Train.Method, c.Train.Steps, c.Train.LogEvery, c.Eval.Steps = "agrpo", 5, 1, nil
	c.RL.Prompts, c.RL.Group = 2, 2
	c.RL.Rollout.MixedSteps = []int{7, 2}
	tr, err := NewRun(c, cpu.New(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := logged(t, filepath.Join(dir, "t"), "rollout_steps")
	if want := []float64{7, 2, 7, 2, 7}; !slices.Equal(got, want) {
		t.Fatalf("rollout steps per RL step %v, want %v", got, want)
	}

	c.Run.Name, c.RL.Rollout.MixedSteps = "bad", []int{7, 8}
	if _, err := NewRun(c, cpu.New(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "rl.rollout") {
		t.Fatalf("mixed_steps with 8 steps for 7 tokens: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); !os.IsNotExist(err) {
		t.Fatalf("a refused run left its folder behind (%v)", err)
	}
}

// TestSFTLearns: a few dozen SFT steps reduce the loss well below its starting value.
func TestSFTLearns(t *testing.T) {
	c := smallConfig(t.TempDir())
	c.Train.Steps, c.Train.LR, c.Train.CheckpointEvery, c.Eval.Steps = 60, 3e-3, 0, nil
	var losses []float64
	tr, err := NewRun(c, cpu.New(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	tr.OnStep = func(st StepInfo) { losses = append(losses, st.Loss) }
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	first, last := mean(losses[:10]), mean(losses[len(losses)-10:])
	if !(last < 0.8*first) {
		t.Fatalf("loss went from %.3f to %.3f; SFT is not learning", first, last)
	}
}

func TestLearningRate(t *testing.T) {
	tc := TrainConfig{LR: 1, WarmupSteps: 10, Steps: 110, Schedule: "cosine", MinLRRatio: 0.1}
	for _, c := range []struct {
		step int
		want float64
	}{{1, 0.1}, {10, 1}, {60, 0.55}, {110, 0.1}} {
		if got := LearningRate(tc, c.step); abs(got-c.want) > 1e-12 {
			t.Errorf("cosine step %d: lr %g, want %g", c.step, got, c.want)
		}
	}
	tc.Schedule = "constant"
	if got := LearningRate(tc, 100); got != 1 {
		t.Errorf("constant: lr %g", got)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	for body, want := range map[string][]string{
		"[run]\nname = \"x\"\n[task]\nname = \"countdown\"\n[train]\nlr = 1e-3\nlearning_rate = 2\n": {"c.toml:7", `unknown key "train.learning_rate"`},
		"[run]\nname = \"x\"\n[task]\nname = \"countdown\"\n[train]\nsteps = \"many\"\n":             {"c.toml:6"},
		"[run]\nname = \"x\"\n[task]\nname = \"countdown\"\n[train]\nsteps = -1\nschedule = \"x\"\n": {"train.steps", "train.schedule"},
		"[task]\nname = \"countdown\"\n[eval]\nremasking = \"best\"\n":                               {"run.name", "eval.remasking"},
		"[run\nname = 1": {"c.toml:1"},
	} {
		_, err := LoadConfig(write(body))
		if err == nil {
			t.Errorf("%q: no error", body)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", body, err, w)
			}
		}
	}
}

func readTensors(t *testing.T, path string) *safetensors.File {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// losses returns the "loss" values of a run's metrics, one per line.
func losses(t *testing.T, dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.Index(line, `"loss":`); i >= 0 {
			out = append(out, strings.SplitN(line[i:], ",", 2)[0])
		}
	}
	return strings.Join(out, "\n")
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

// logged returns the values of one key in a run's metrics, in order.
func logged(t *testing.T, dir, key string) []float64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		if v, ok := rec[key].(float64); ok {
			out = append(out, v)
		}
	}
	return out
}
