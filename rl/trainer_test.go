package rl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/rl/models"
)

// methodNamed is the method of a known name; no name is no method (a resumed job's ranks read
// theirs from the run folder).
func methodNamed(name string) Method {
	if name == "" {
		return Method{}
	}
	m, err := ParseMethod(name)
	if err != nil {
		panic(err)
	}
	return m
}

// smallConfig is a run small enough for tests: a 2-layer d=32 model on arithmetic.
func smallConfig(dir string) Config {
	c := DefaultConfig()
	c.Run = RunConfig{Name: "t", OutDir: dir, Seed: 3, Device: "cpu"}
	c.Task.Name = "arithmetic"
	c.Model = ModelConfig{DModel: 32, Layers: 2, Heads: 2, MLPHidden: 64, RopeTheta: 10000, NormEps: 1e-5}
	c.Train.Steps, c.Train.BatchSize, c.Train.WarmupSteps = 12, 16, 3
	c.Train.Schedule, c.Train.LogEvery, c.Train.CheckpointEvery = Cosine, 2, 5
	c.Eval = EvalConfig{N: 8, Steps: []int{7}, Remasking: core.LowConfidence, BatchSize: 8}
	return c
}

// TestResumeIsExact: a run interrupted after step 5 and resumed ends with the same parameters,
// bit for bit, and the same logged losses as an uninterrupted run — for SFT and both RL methods.
func TestResumeIsExact(t *testing.T) {
	for _, method := range []string{"sft", "agrpo", "diffu-grpo"} {
		t.Run(method, func(t *testing.T) { testResume(t, method, nil) })
	}
}

// testResume runs the resume check for method on smallConfig changed by adapt (if not nil).
func testResume(t *testing.T, method string, adapt func(*Config)) {
	cfg := func(dir string) Config {
		c := smallConfig(dir)
		c.Train.Method = methodNamed(method)
		c.RL.Prompts, c.RL.Group, c.RL.Iterations = 3, 4, 2
		if method == "agrpo" {
			c.RL.Rollout.MixedSteps = []int{7, 3} // the cycle must resume where it stopped
		}
		if adapt != nil {
			adapt(&c)
		}
		return c
	}
	straightDir, splitDir := t.TempDir(), t.TempDir()
	var log bytes.Buffer
	straight, err := NewRun(cfg(straightDir), nil, cpu.New(), &log)
	if err != nil {
		t.Fatal(err)
	}
	if err := straight.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	first, err := NewRun(cfg(splitDir), nil, cpu.New(), &log)
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
	if _, err := NewRun(cfg(splitDir), nil, cpu.New(), &log); err == nil || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("starting over an existing run: %v", err)
	}
	second, err := Resume(filepath.Join(splitDir, "t"), nil, cpu.New(), &log)
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

// TestNaNStopsKeepingCheckpoint: a run whose weights turn NaN after step 6 stops at step 7 with
// a message naming the poisoned parameter and the kept checkpoint, the step-5 one: for SFT
// through the loss, for AGRPO through the sampler of its rollouts (T > 0). Poisoned after step
// 10, whose checkpoint is due, the run refuses to write it and still keeps step 5's.
func TestNaNStopsKeepingCheckpoint(t *testing.T) {
	for _, c := range []struct {
		method          string
		poison, stopsAt int
		why             string
	}{{"sft", 6, 7, "loss NaN"}, {"agrpo", 6, 7, "logits are not finite"}, {"sft", 10, 10, "parameters are not finite"}} {
		t.Run(fmt.Sprintf("%s poisoned at %d", c.method, c.poison), func(t *testing.T) {
			cfg := smallConfig(t.TempDir())
			cfg.Train.Method = methodNamed(c.method)
			cfg.RL.Prompts, cfg.RL.Group = 2, 4
			checkDiverges(t, cfg, cpu.New(), c.stopsAt, 5, func(tr *Trainer, st StepInfo) {
				if st.Step == c.poison {
					m := tr.Model
					v := make([]float32, m.P.WTE.Len())
					m.B.Download(m.P.WTE, v)
					v[0] = float32(nanValue())
					m.B.Upload(m.P.WTE, v)
				}
			}, c.why, "first non-finite parameter: model.transformer.wte.weight")
		})
	}
}

// TestDivergingRunStops: AGRPO at lr = 1e6 overflows within a few steps; the run stops with
// the sampler's message instead of panicking, and the checkpoint kept holds finite weights.
func TestDivergingRunStops(t *testing.T) {
	c := smallConfig(t.TempDir())
	c.Train.Method, c.Train.LR, c.Train.Schedule, c.Train.WarmupSteps, c.Train.CheckpointEvery = methodNamed("agrpo"), 1e6, Constant, 0, 1
	c.RL.Prompts, c.RL.Group = 2, 4
	checkDiverges(t, c, cpu.New(), -1, -1, nil, "logits are not finite")
}

// checkDiverges runs c on b (with onStep), which must stop at step stop (−1: any step after the
// first) with a message holding want, keeping a checkpoint of step saved (−1: the step before)
// whose parameters are all finite.
func checkDiverges(t *testing.T, c Config, b core.Backend, stop, saved int, onStep func(*Trainer, StepInfo), want ...string) {
	t.Helper()
	tr, err := NewRun(c, nil, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if onStep != nil {
		tr.OnStep = func(st StepInfo) { onStep(tr, st) }
	}
	err = tr.Run(context.Background())
	if err == nil {
		t.Fatal("the run did not stop")
	}
	if stop < 0 {
		stop = tr.Step + 1 // the step that failed
	}
	if saved < 0 {
		saved = stop - 1
	}
	msg := err.Error()
	path := filepath.Join(c.Run.OutDir, c.Run.Name, CheckpointFile)
	want = append(want, fmt.Sprintf("the last good checkpoint (step %d) is kept in %s", saved, path))
	if !strings.HasPrefix(msg, fmt.Sprintf("step %d: ", stop)) {
		t.Errorf("Run returned %q, want it to start with step %d", msg, stop)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("Run returned %q, want it to hold %q", msg, w)
		}
	}
	if stop < 2 {
		t.Errorf("stopped at step %d", stop)
	}
	ck := readTensors(t, path)
	if ck.Metadata["step"] != strconv.Itoa(saved) {
		t.Fatalf("checkpoint at step %s, want the last good one (%d)", ck.Metadata["step"], saved)
	}
	for name, x := range ck.Tensors {
		v, err := x.Float32()
		if err != nil {
			continue // the integer state
		}
		if slices.ContainsFunc(v, func(f float32) bool { return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) }) {
			t.Errorf("the checkpoint kept has non-finite values in %s", name)
		}
	}
}

// TestMixedSteps: RL step i samples its rollouts with mixed_steps[i mod n] steps, and a step
// count the answer length cannot honour is refused before the run folder exists.
func TestMixedSteps(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Train.Method, c.Train.Steps, c.Train.LogEvery, c.Eval.Steps = methodNamed("agrpo"), 5, 1, nil
	c.RL.Prompts, c.RL.Group = 2, 2
	c.RL.Rollout.MixedSteps = []int{7, 2}
	tr, err := NewRun(c, nil, cpu.New(), &bytes.Buffer{})
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
	if _, err := NewRun(c, nil, cpu.New(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "rl.rollout") {
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
	tr, err := NewRun(c, nil, cpu.New(), &bytes.Buffer{})
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
	tc := TrainConfig{LR: 1, WarmupSteps: 10, Steps: 110, Schedule: Cosine, MinLRRatio: 0.1}
	for _, c := range []struct {
		step int
		want float64
	}{{1, 0.1}, {10, 1}, {60, 0.55}, {110, 0.1}} {
		if got := LearningRate(tc, c.step); abs(got-c.want) > 1e-12 {
			t.Errorf("cosine step %d: lr %g, want %g", c.step, got, c.want)
		}
	}
	tc.Schedule = Constant
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

// TestInitForAnotherTask: model.init trained for Sudoku is refused for Countdown, naming both
// tasks and the override, and creates no run folder; with model.any_task it is accepted.
func TestInitForAnotherTask(t *testing.T) {
	c := smallConfig(t.TempDir())
	c.Task.Name, c.Model.Init = "countdown", "sudoku-base"
	_, err := NewRun(c, models.Shipped, cpu.New(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "sudoku-base was trained for sudoku, not countdown") || !strings.Contains(err.Error(), "any_task") {
		t.Fatalf("NewRun returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Run.OutDir, c.Run.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run left its folder behind (%v)", err)
	}
	c.Model.AnyTask = true
	if _, err := NewRun(c, models.Shipped, cpu.New(), io.Discard); err != nil {
		t.Fatalf("with model.any_task: %v", err)
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

// TestMetricsHygiene: a run started over in a folder left without a checkpoint, or a finished
// run resumed, writes each evaluation once (demo's TestPlotRun has the plot's side).
func TestMetricsHygiene(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Train.Method, c.Train.Steps, c.Train.EvalEvery, c.Train.CheckpointEvery = methodNamed("agrpo"), 4, 2, 0
	c.RL.Prompts, c.RL.Group = 2, 2
	run := filepath.Join(dir, "t")
	os.MkdirAll(run, 0o755)
	stale := `{"eval":[{"steps":7,"n":8,"accuracy":0.5}],"step":0}` + "\n" + `{"step":1,"loss":9}` + "\n"
	if err := os.WriteFile(filepath.Join(run, MetricsFile), []byte(stale+stale), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := NewRun(c, nil, cpu.New(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := Resume(run, nil, cpu.New(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var evalSteps []float64
	raw, _ := os.ReadFile(filepath.Join(run, MetricsFile))
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec struct {
			Step int             `json:"step"`
			Eval json.RawMessage `json:"eval"`
		}
		json.Unmarshal([]byte(line), &rec)
		if rec.Eval != nil {
			evalSteps = append(evalSteps, float64(rec.Step))
		}
	}
	if want := []float64{0, 2, 4}; !slices.Equal(evalSteps, want) {
		t.Fatalf("evaluations logged at steps %v, want %v once each", evalSteps, want)
	}
	if losses := logged(t, run, "loss"); len(losses) != 2 || slices.Contains(losses, 9) { // log_every = 2
		t.Fatalf("losses %v: want steps 2 and 4 of this run, not the stale record", losses)
	}

}

// TestMemoryRefused: runs far larger than the machine are refused before anything is allocated
// or written, naming the setting to lower.
func TestMemoryRefused(t *testing.T) {
	if _, ok := availableMemory(); !ok {
		t.Skip("no /proc/meminfo: the memory check is off on this system")
	}
	for want, edit := range map[string]func(*Config){
		"lower rl.prompts_per_step × rl.group_size": func(c *Config) { c.Train.Method, c.RL.Group = methodNamed("agrpo"), 1e9 },
		"lower the model's size":                    func(c *Config) { c.Model.DModel, c.Model.MLPHidden = 1<<20, 1<<20 },
		"lower train.batch_size":                    func(c *Config) { c.Train.BatchSize = 1 << 30 },
	} {
		dir := t.TempDir()
		c := smallConfig(dir)
		edit(&c)
		if _, err := NewRun(c, nil, cpu.New(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: NewRun returned %v", want, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: a refused run left %v behind", want, entries)
		}
	}
}

// TestChatTaskRefused: a chat task with a fresh model on the character vocabulary is refused
// before the run folder exists.
func TestChatTaskRefused(t *testing.T) {
	c := smallConfig(t.TempDir())
	c.Task.Name = "gsm8k"
	_, err := NewRun(c, nil, cpu.New(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "model: task gsm8k writes chat prompts") {
		t.Fatalf("NewRun returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Run.OutDir, c.Run.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run left its folder behind (%v)", err)
	}
}

// TestRunFolderInUse: a second trainer on a folder that another one holds is refused before it
// writes anything, naming the holder; once the first is done, the folder can be resumed.
func TestRunFolderInUse(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Train.Steps, c.Train.WarmupSteps = 1, 0
	first, err := NewRun(c, nil, cpu.New(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, c.Run.Name)
	cfgBefore, err := os.ReadFile(filepath.Join(runDir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	c2 := c
	c2.Train.LR *= 2
	if _, err := NewRun(c2, nil, cpu.New(), io.Discard); err == nil || !strings.Contains(err.Error(), "in use by another trainer") ||
		!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second trainer on a held folder: err = %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(runDir, ConfigFile)); !bytes.Equal(after, cfgBefore) {
		t.Fatal("the refused trainer rewrote the config")
	}
	if err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Run released the folder: resuming it now works (and finds the run finished).
	if _, err := Resume(runDir, nil, cpu.New(), io.Discard); err != nil {
		t.Fatalf("resume after the first trainer finished: %v", err)
	}
}

// TestGroupedQueryModel: model.n_kv_heads makes a fresh model with grouped-query attention,
// which trains and is saved with its n_kv_heads (and loads back as such).
func TestGroupedQueryModel(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Model.Heads, c.Model.KVHeads = 4, 2
	c.Train.Steps, c.Train.CheckpointEvery = 2, 0
	r, err := NewRun(c, nil, cpu.New(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadModel(filepath.Join(dir, "t", "model.safetensors"), nil, cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.Heads != 4 || ck.Config.KVHeadCount() != 2 {
		t.Errorf("saved model has %d heads on %d key/value heads, want 4 on 2", ck.Config.Heads, ck.Config.KVHeadCount())
	}
}
