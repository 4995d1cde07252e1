package main

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
)

// TestAdapterAndMerge: a PEFT adapter folder on countdown-base — eval -adapter runs with it (and
// differs from the base), export -adapter -merge writes W + (α/r)·B·A as a Hugging Face folder
// (checked tensor by tensor against MergedParams), an adapter made for another model is refused
// with exit 2, and -merge without -adapter is a usage error.
func TestAdapterAndMerge(t *testing.T) {
	dir := t.TempDir()
	b := cpu.New()
	ck, err := rl.LoadModel("countdown-base", models.Shipped, b)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(b, ck.Config, ck.Params)
	if err := m.AttachLoRA(model.LoRAConfig{R: 2, Alpha: 4, Targets: []string{"q_proj", "v_proj", "ff_out"}}, 1); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tr := range m.Trainables() {
		if strings.HasSuffix(tr.Name, "lora_B.weight") { // PEFT's zero B would change nothing
			v := make([]float32, tr.Param.Len())
			for i := range v {
				v[i] = float32(0.05 * rng.NormFloat64())
			}
			b.Upload(tr.Param, v)
		}
	}
	adapter := filepath.Join(dir, "adapter")
	if err := model.SaveAdapter(adapter, m, "countdown-base"); err != nil {
		t.Fatal(err)
	}
	args := []string{"eval", "-ckpt", "countdown-base", "-task", "countdown", "-n", "16", "-steps", "12", "-json"}
	base, withAdapter := evalResults(t, args...), evalResults(t, append(args, "-adapter", adapter)...)
	if base == withAdapter {
		t.Error("eval -adapter gives the base model's results")
	}

	out := filepath.Join(dir, "merged")
	if code, _, stderr := runDemo("export", "-ckpt", "countdown-base", "-adapter", adapter, "-merge", "-out", out); code != 0 {
		t.Fatalf("export -merge: exit %d: %s", code, stderr)
	}
	got, err := model.LoadDir(out, b)
	if err != nil {
		t.Fatal(err)
	}
	want := m.MergedParams().List(ck.Config)
	for i, n := range got.Params.List(got.Config) {
		g, w := make([]float32, n.Tensor.Len()), make([]float32, n.Tensor.Len())
		b.Download(n.Tensor, g)
		b.Download(want[i].Tensor, w)
		if !slices.Equal(g, w) {
			t.Errorf("exported %s differs from W + (α/r)·B·A", n.Name)
		}
	}

	if code, _, stderr := runDemo("eval", "-ckpt", bpeFolder, "-task", "gsm8k", "-n", "1", "-adapter", adapter); code != 2 || !strings.Contains(stderr, "adapter") {
		t.Errorf("an adapter for another model: exit %d, %q; want 2 naming the adapter", code, stderr)
	}
	if code, _, _ := runDemo("export", "-ckpt", "countdown-base", "-merge", "-out", filepath.Join(dir, "x")); code != 2 {
		t.Errorf("-merge without -adapter: exit %d, want 2", code)
	}
}
