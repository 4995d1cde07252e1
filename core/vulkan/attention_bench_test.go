//go:build linux && cgo

package vulkan

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// BenchmarkAttention times the attention shaders at the demo model's shape (B=64, L=64, H=4,
// Dh=32, every 8th key padding), forward alone and forward+backward, one Sync per iteration, and
// reports the matmul work as GFLOP/s (4·B·H·L²·Dh forward, 2.5× that more for the backward).
func BenchmarkAttention(b *testing.B) {
	const nb, seq, heads, hd = 64, 64, 4, 32
	be, err := New(Options{Device: Auto, AllowCPU: true})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer be.Close()
	dm := heads * hd
	vals := make([]float32, nb*seq*dm)
	for i := range vals {
		vals[i] = float32(i%13)/13 - 0.5
	}
	mask := make([]int32, nb*seq)
	for i := range mask {
		if i%8 != 7 {
			mask[i] = 1
		}
	}
	alloc := func() *core.Tensor {
		t := be.Alloc(core.F32, nb, seq, dm)
		be.Upload(t, vals)
		return t
	}
	q, k, v, g := alloc(), alloc(), alloc(), alloc()
	out, dq, dk, dv := alloc(), alloc(), alloc(), alloc()
	lse := be.Alloc(core.F32, nb, heads, seq)
	km := be.Alloc(core.I32, nb, seq)
	be.UploadInt(km, mask)
	fwdFlop := 4.0 * nb * heads * seq * seq * hd
	for _, bc := range []struct {
		name     string
		backward bool
		flop     float64
	}{{"forward", false, fwdFlop}, {"forward+backward", true, 3.5 * fwdFlop}} {
		b.Run(bc.name, func(b *testing.B) {
			step := func() {
				be.Attention(out, lse, q, k, v, km, heads)
				if bc.backward {
					be.AttentionBackward(dq, dk, dv, g, q, k, v, out, lse, km, heads)
				}
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm-up: pipeline creation and lavapipe's JIT
			b.ResetTimer()
			for range b.N {
				step()
			}
			b.ReportMetric(bc.flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
