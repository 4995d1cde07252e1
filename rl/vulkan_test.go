//go:build linux && cgo

package rl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/core/vulkan/vulkantest"
	"github.com/dllmrl/agrpo/rl/dist/disttest"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// Whole runs on the Vulkan backend against the CPU backend: the same config and seed must give
// the same losses, the same parameter updates and the same sampled tokens, up to float32
// rounding (the backends sum in different orders) and the rare sampling tie it can flip.

// TestVulkanRunMatchesCPU trains a few SFT steps and one AGRPO step from the shipped Countdown
// base model (its rollouts get mixed rewards, so AGRPO has a gradient) on both backends and
// compares the logged metrics and the parameter updates.
func TestVulkanRunMatchesCPU(t *testing.T) {
	for _, method := range []string{"sft", "agrpo"} {
		t.Run(method, func(t *testing.T) {
			cfg := func(dir string) Config {
				c := smallConfig(dir)
				c.Task.Name, c.Model = "countdown", ModelConfig{Init: "countdown-base"}
				c.Train.Method, c.Train.LR = methodNamed(method), 1e-4
				c.Train.Steps, c.Train.WarmupSteps, c.Train.LogEvery, c.Train.CheckpointEvery = 3, 0, 1, 100
				if method != "sft" {
					c.Train.Steps = 1
					c.RL.Prompts, c.RL.Group = 4, 4
				}
				c.Eval.N, c.Eval.Steps = 1, []int{6}
				return c
			}
			cpuDir, vkDir := t.TempDir(), t.TempDir()
			runTo(t, cfg(cpuDir), cpu.New())
			runTo(t, cfg(vkDir), vulkantest.Open(t))
			// SFT's loss, and for AGRPO the rollouts' reward (its first surrogate loss is 0 by
			// construction: ratio 1 times zero-mean advantages).
			keys := map[string][]string{"sft": {"loss"}, "agrpo": {"reward", "reward_std"}}[method]
			for _, key := range keys {
				want, got := logged(t, filepath.Join(cpuDir, "t"), key), logged(t, filepath.Join(vkDir, "t"), key)
				if len(want) == 0 || len(want) != len(got) {
					t.Fatalf("logged %s: CPU %v, Vulkan %v", key, want, got)
				}
				for i := range want {
					if d := math.Abs(want[i] - got[i]); d > 1e-4*math.Max(1, math.Abs(want[i])) {
						t.Errorf("%s %d: CPU %.7g, Vulkan %.7g", key, i, want[i], got[i])
					}
				}
				t.Logf("%s: CPU %v, Vulkan %v", key, want, got)
			}
			init := readShipped(t, "countdown-base")
			a := readTensors(t, filepath.Join(cpuDir, "t", CheckpointFile))
			b := readTensors(t, filepath.Join(vkDir, "t", CheckpointFile))
			// The updates, not the parameters: their difference relative to their size is
			// what float rounding can disturb (Adam's m/√v turns tiny gradients into full steps).
			var diff, size float64
			for name, t0 := range init.Tensors {
				p0, pa, pb := floats(t, t0), floats(t, a.Tensors[name]), floats(t, b.Tensors[name])
				for i := range p0 {
					ua, ub := pa[i]-p0[i], pb[i]-p0[i]
					diff += (ua - ub) * (ua - ub)
					size += ua * ua
				}
			}
			rel := math.Sqrt(diff / size)
			t.Logf("parameter updates differ by %.2g relative", rel)
			if size == 0 || rel > 1e-2 {
				t.Errorf("parameter updates differ by %.3g relative (norm of the CPU update %.3g)", rel, math.Sqrt(size))
			}
		})
	}
}

// TestVulkanSamplingMatchesCPU samples the arithmetic test prompts with the same seed on both
// backends: every row must reveal the same tokens at the same steps, except for rare ties that
// float32 rounding in a different order can flip (at most one row in 32).
func TestVulkanSamplingMatchesCPU(t *testing.T) {
	tk, err := task.ByName("arithmetic")
	if err != nil {
		t.Fatal(err)
	}
	problems := tk.Test()[:64]
	prompts := make([]sampler.Prompt, len(problems))
	for i, p := range problems {
		ids, mask, err := task.EncodePrompt(tk, p)
		if err != nil {
			t.Fatal(err)
		}
		prompts[i] = sampler.Prompt{Tokens: ids, Mask: mask}
	}
	for _, rm := range []core.Remasking{core.LowConfidence, core.RandomOrder} {
		cfg := sampler.Config{GenLength: tk.AnswerLen(), BlockLength: tk.AnswerLen(), Steps: tk.AnswerLen() / 2,
			Temperature: 0.7, TopK: 8, Remasking: rm, Seed: 17}
		sample := func(b core.Backend) *sampler.Trajectories {
			ck, err := LoadModel("arithmetic-base", models.Shipped, b)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := sampler.Generate(model.New(b, ck.Config, ck.Params), prompts, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		}
		want, got := sample(cpu.New()), sample(vulkantest.Open(t))
		differ := 0
		for r := 0; r < want.B; r++ {
			lo, hi := r*want.C, (r+1)*want.C
			if !slices.Equal(want.Tokens[lo:hi], got.Tokens[lo:hi]) || !slices.Equal(want.RevealStep[lo:hi], got.RevealStep[lo:hi]) {
				differ++
				t.Logf("%v row %d: CPU %v at %v, Vulkan %v at %v", rm, r, want.Tokens[lo:hi], want.RevealStep[lo:hi], got.Tokens[lo:hi], got.RevealStep[lo:hi])
				continue
			}
			for j := lo; j < hi; j++ {
				if d := math.Abs(float64(want.LogP[j] - got.LogP[j])); d > 1e-4 {
					t.Errorf("%v row %d position %d: log-probability CPU %g, Vulkan %g", rm, r, j-lo, want.LogP[j], got.LogP[j])
				}
			}
		}
		if differ > want.B/32 {
			t.Errorf("%v: %d of %d rows differ between the backends", rm, differ, want.B)
		}
	}
}

// TestVulkanNonFinite: a NaN in the embedding of one prompt token makes the logits of the rows
// that hold it NaN; the sampler on Vulkan must report the first of those rows at step 1 and
// count them, greedy or sampling; and a diverging AGRPO run must stop as on the CPU
// (TestNaNStopsKeepingCheckpoint).
func TestVulkanNonFinite(t *testing.T) {
	b := vulkantest.Open(t)
	tk, err := task.ByName("arithmetic")
	if err != nil {
		t.Fatal(err)
	}
	var prompts []sampler.Prompt
	for _, p := range tk.Test()[:16] {
		ids, mask, err := task.EncodePrompt(tk, p)
		if err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, sampler.Prompt{Tokens: ids, Mask: mask})
	}
	poison := prompts[3].Tokens[len(prompts[3].Tokens)-3]
	first, rows := -1, 0
	for r, p := range prompts {
		if slices.Contains(p.Tokens, poison) {
			rows++
			if first < 0 {
				first = r
			}
		}
	}
	ck, err := LoadModel("arithmetic-base", models.Shipped, b)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(b, ck.Config, ck.Params)
	v := make([]float32, m.P.WTE.Len())
	b.Download(m.P.WTE, v)
	v[int(poison)*m.Cfg.DModel] = float32(math.NaN())
	b.Upload(m.P.WTE, v)
	for _, temp := range []float32{0, 0.7} {
		cfg := sampler.Config{GenLength: tk.AnswerLen(), BlockLength: tk.AnswerLen(), Steps: tk.AnswerLen() / 2,
			Temperature: temp, TopK: 8, Remasking: core.LowConfidence, Seed: 17}
		_, err := sampler.Generate(m, prompts, cfg, nil)
		want := fmt.Sprintf("at sampling step 1 of %d in row %d (%d of %d rows affected)", cfg.Steps, first, rows, len(prompts))
		if !errors.Is(err, sampler.ErrNonFinite) || !strings.Contains(err.Error(), want) {
			t.Errorf("T=%g: Generate returned %v, want an error ending %q", temp, err, want)
		}
	}

	c := smallConfig(t.TempDir())
	c.Train.Method = methodNamed("agrpo")
	c.RL.Prompts, c.RL.Group = 2, 4
	checkDiverges(t, c, b, 7, 5, func(tr *Trainer, st StepInfo) {
		if st.Step == 6 {
			v := make([]float32, tr.Model.P.WTE.Len())
			b.Download(tr.Model.P.WTE, v)
			v[0] = float32(math.NaN())
			b.Upload(tr.Model.P.WTE, v)
		}
	}, "logits are not finite", "first non-finite parameter: model.transformer.wte.weight")
}

func runTo(t *testing.T, c Config, b core.Backend) {
	t.Helper()
	tr, err := NewRun(c, models.Shipped, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func readShipped(t *testing.T, name string) *safetensors.File {
	t.Helper()
	raw, ok := models.Shipped.Bytes(name)
	if !ok {
		t.Fatalf("no shipped model %s", name)
	}
	f, err := safetensors.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// floats decodes a float32 tensor of a checkpoint, widened.
func floats(t *testing.T, st safetensors.Tensor) []float64 {
	t.Helper()
	v, err := st.Float32()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestJobOnVulkan: an AGRPO job of 2 ranks, each on its own Vulkan backend (lavapipe in CI),
// logs what one process on the Vulkan backend logs and ends with its parameters, as on the CPU
// (TestJobEqualsOneProcess): the rows' keyed draws in the shader and the gradients' trip
// through host memory for the sum.
func TestJobOnVulkan(t *testing.T) {
	disttest.Mpirun(t)
	one := oneProcess(t, "agrpo", 3, vulkantest.Open(t))
	dir := t.TempDir()
	runJob(t, 2, "AGRPO_JOB_METHOD=agrpo", "AGRPO_JOB_DIR="+dir, "AGRPO_JOB_STEPS=3", "AGRPO_JOB_DEVICE=vulkan")
	compareRuns(t, "agrpo on 2 ranks, Vulkan", filepath.Join(one, "t"), filepath.Join(dir, "t"))
	var norms []float64
	for _, r := range metricRecords(t, filepath.Join(dir, "t")) {
		if g, ok := r["grad_norm"]; ok {
			norms = append(norms, g)
		}
	}
	if !slices.ContainsFunc(norms, func(g float64) bool { return g > 0 }) {
		t.Errorf("gradient norms %v: no step had a gradient to sum", norms)
	}
	t.Logf("gradient norms %v", norms)
}
