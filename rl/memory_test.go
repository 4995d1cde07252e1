package rl

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/backendtest"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
	"github.com/dllmrl/agrpo/rl/task"
)

// planCases are short real runs whose memory plan is checked against the measured peak, each
// with a model.init to save first (nil: none), chosen so that every part of the plan is a large
// share of some case's peak: SFT of a wide model at a small batch (weights, gradients,
// moments); AGRPO from a saved model with a KL reference of its own weights; LoRA AGRPO at a
// large rank (adapters); and LoRA AGRPO on the test-sized LLaDA folder (16-bit base, a
// 3877-token vocabulary: the head's chunks, and a top-k rollout's support flags).
func planCases() map[string]func(t *testing.T, dir string) Config {
	wide := func(dir string) Config {
		c := smallConfig(dir)
		c.Model.DModel, c.Model.MLPHidden = 128, 384
		c.Train.Steps, c.Train.BatchSize = 2, 2
		c.Eval.BatchSize = 2
		return c
	}
	agrpo := func(t *testing.T, dir string) Config {
		c := wide(dir)
		c.Model.Init = saveBase(t, c)
		c.Train.Method, c.Train.Steps = methodNamed("agrpo"), 2
		c.RL.Prompts, c.RL.Group = 2, 2
		// One step drawn per rollout: with several, two draws of one trajectory can land on the
		// same step and share a row, and the update runs fewer rows than the plan's bound.
		c.RL.Estimators = maps.Clone(c.RL.Estimators)
		a := c.RL.Estimators["agrpo"].(pg.AGRPOConfig)
		a.MCSamples = 1
		c.RL.Estimators["agrpo"] = a
		return c
	}
	return map[string]func(t *testing.T, dir string) Config{
		"sft": func(_ *testing.T, dir string) Config { return wide(dir) },
		"agrpo-kl": func(t *testing.T, dir string) Config {
			c := agrpo(t, dir)
			c.RL.Beta = 0.05
			return c
		},
		"agrpo-lora-r64": func(t *testing.T, dir string) Config {
			c := agrpo(t, dir)
			c.Model.LoRA = model.LoRAConfig{R: 64, Alpha: 64, Targets: model.Modules}
			c.RL.Beta = 0.05
			return c
		},
		"agrpo-lora-llada": func(t *testing.T, dir string) Config {
			c := agrpo(t, dir)
			c.Task.Name = "gsm8k"
			c.Model.Init = filepath.Join("..", "testdata", "hf", "llada-bpe-tiny")
			c.Model.LoRA = model.LoRAConfig{R: 8, Alpha: 16, Targets: model.Modules}
			c.Train.Steps = 1
			c.RL.Rollout = RolloutConfig{Steps: 4, Temperature: 0.6, TopK: 4, Remasking: core.RandomOrder, Confidence: core.Tempered}
			c.Eval.N, c.Eval.BatchSize, c.Eval.Steps = 1, 1, []int{4}
			return c
		},
	}
}

// TestMemoryPlanMatchesPeak: the plan's total is within 10 % of the peak of live bytes that a
// real short run allocates through the counting backend, and every part of the plan is large
// enough in some case that leaving it out would break that bound.
func TestMemoryPlanMatchesPeak(t *testing.T) {
	mattered := map[string]bool{}
	for name, mk := range planCases() {
		t.Run(name, func(t *testing.T) {
			c := mk(t, t.TempDir())
			tk, err := task.ByName(c.Task.Name)
			if err != nil {
				t.Fatal(err)
			}
			cb := &backendtest.Counting{Backend: cpu.New()}
			tr, err := NewRun(c, nil, cb, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			weights := Float32Weights(tr.Model.Cfg)
			if c.Model.LoRA.R > 0 {
				weights = HeldWeights(tr.Model.P, tr.Model.Cfg)
			}
			p := PlanMemory(c, tr.Model.Cfg, tk, weights)
			peak := float64(cb.Peak)
			t.Logf("plan %.0f bytes, measured peak %.0f: ratio %.3f; parts %v", p.Total(), peak, p.Total()/peak, p.Parts())
			if r := p.Total() / peak; r < 0.9 || r > 1.1 {
				t.Fatalf("plan %.0f bytes is %.3f× the measured peak %.0f", p.Total(), r, peak)
			}
			for _, part := range p.Parts() {
				if (p.Total()-part.Bytes)/peak < 0.9 {
					mattered[part.Name] = true
				}
			}
		})
	}
	for _, part := range (MemoryPlan{}).Parts() {
		if !mattered[part.Name] {
			t.Errorf("no case needs the part %q to come within 10 %% of its peak: the test would not notice it dropped", part.Name)
		}
	}
}

// TestMemoryRefusedOnDevice: a run whose plan exceeds a GPU's memory is refused by NewRun (as
// `demo train` calls it) naming the setting that sizes its larger part, before the run folder
// exists; the same run on a device with room for its plan starts.
func TestMemoryRefusedOnDevice(t *testing.T) {
	dir := t.TempDir()
	c := smallConfig(dir)
	c.Train.BatchSize = 4096
	tk, err := task.ByName(c.Task.Name)
	if err != nil {
		t.Fatal(err)
	}
	mc := ModelConfigFor(c.Model, tk)
	p := PlanMemory(c, mc, tk, Float32Weights(mc))
	_, err = NewRun(c, nil, fakeDevice{cpu.New(), 1 << 20}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "more than the 0.0 GiB the device has: lower train.batch_size") {
		t.Fatalf("a plan of %.0f bytes on a 1 MiB device: %v", p.Total(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused run left %v behind", entries)
	}
	if _, err := NewRun(c, nil, fakeDevice{cpu.New(), uint64(p.Total()) + 1}, io.Discard); err != nil {
		t.Fatalf("a plan within the device's memory was refused: %v", err)
	}
}

// fakeDevice is a CPU backend that reports a discrete GPU's memory.
type fakeDevice struct {
	*cpu.Backend
	mem uint64
}

func (f fakeDevice) MemoryBytes() uint64 { return f.mem }

func (f fakeDevice) Device() (int, string) { return 0, "discrete" }

// TestMemorySetting: the setting the plan names is the one that sizes its largest batch, or the
// model when its state outweighs the activations.
func TestMemorySetting(t *testing.T) {
	tk, err := task.ByName("arithmetic")
	if err != nil {
		t.Fatal(err)
	}
	for want, edit := range map[string]func(*Config){
		"train.batch_size": func(c *Config) { c.Train.BatchSize = 1 << 16 },
		"eval.batch_size":  func(c *Config) { c.Train.BatchSize, c.Eval.BatchSize = 1, 1<<16 },
		"rl.prompts_per_step × rl.group_size": func(c *Config) {
			c.Train.Method, c.RL.Prompts, c.RL.Group, c.RL.MaxRows = methodNamed("agrpo"), 64, 1024, 512
		},
		"rl.max_rows": func(c *Config) {
			c.Train.Method, c.RL.Prompts, c.RL.Group, c.RL.MaxRows = methodNamed("agrpo"), 64, 16, 1<<16
		},
		"the model's size": func(c *Config) {
			c.Model.DModel, c.Model.MLPHidden, c.Train.BatchSize, c.Eval.BatchSize = 1024, 4096, 1, 1
		},
	} {
		c := smallConfig("")
		edit(&c)
		mc := ModelConfigFor(c.Model, tk)
		if p := PlanMemory(c, mc, tk, Float32Weights(mc)); !strings.HasPrefix(p.Setting, want) {
			t.Errorf("want %q, the plan names %q (%v)", want, p.Setting, p.Parts())
		}
	}
}
