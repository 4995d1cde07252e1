//go:build linux && cgo

package model

import (
	"math"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/vulkan/vulkantest"
)

// TestLoRAVulkan runs the same adapted model (every module and the head adapted, B non-zero)
// on the CPU and Vulkan backends and compares the logits and every adapter gradient, each
// within 1e-4 of its tensor's largest magnitude (‖Δ‖∞ / ‖CPU‖∞), with the validation layers on.
func TestLoRAVulkan(t *testing.T) {
	vb := vulkantest.Open(t)
	want := loraPass(t, cpu.New())
	got := loraPass(t, vb)
	if err := vb.Sync(); err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		g := got[name]
		var diff, top float64
		for i := range w {
			diff = math.Max(diff, math.Abs(float64(g[i]-w[i])))
			top = math.Max(top, math.Abs(float64(w[i])))
		}
		if diff > 1e-4*top {
			t.Errorf("%s: Vulkan vs CPU max |diff| %g, want ≤ 1e-4 × %g", name, diff, top)
		}
	}
}

// TestLoRAPyTorchParityVulkan is TestLoRAPyTorchParity on the Vulkan backend.
func TestLoRAPyTorchParityVulkan(t *testing.T) {
	b := vulkantest.Open(t)
	RunLoRAParity(t, b)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}

// loraPass runs a forward and backward of the test's adapted model on b and returns its logits
// and adapter gradients by name.
func loraPass(t *testing.T, b core.Backend) map[string][]float32 {
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 1)
	attachTestLoRA(t, m)
	m.AllocGrads()
	lossAndGrad(m, randomBatch(b, cfg, 3, 9, 2), true)
	out := map[string][]float32{"logits": download(b, m.cur.logits)}
	for _, tr := range m.Trainables() {
		out[tr.Name] = download(b, tr.Grad)
	}
	return out
}
