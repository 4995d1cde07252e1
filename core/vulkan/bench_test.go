//go:build linux && cgo

package vulkan

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// benchMatMul times c = op(a)·op(w) for c of m×n and inner size k (one recorded dispatch and a
// Sync per iteration) and reports GFLOP/s.
func benchMatMul(b *testing.B, m, n, k int, transA, transB bool) {
	be, err := New(Options{Device: Auto, AllowCPU: true})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer be.Close()
	shape := func(r, c int, t bool) []int {
		if t {
			return []int{c, r}
		}
		return []int{r, c}
	}
	x, y, c := be.Alloc(core.F32, shape(m, k, transA)...), be.Alloc(core.F32, shape(k, n, transB)...), be.Alloc(core.F32, m, n)
	for _, t := range []*core.Tensor{x, y} {
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = float32(i%7) - 3
		}
		be.Upload(t, v)
	}
	be.MatMul(c, x, y, transA, transB, 1, 0) // warm-up: pipeline creation and JIT
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		be.MatMul(c, x, y, transA, transB, 1, 0)
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkMatMul1024 times C = A·B at 1024³; the lavapipe target is ≥ 6 GFLOP/s.
func BenchmarkMatMul1024(b *testing.B) { benchMatMul(b, 1024, 1024, 1024, false, false) }

// BenchmarkMatMulModel times the demo model's three matmul forms at its largest shapes (a batch
// of 64 × 64 tokens, d_model 128, MLP width 384): a linear layer's forward pass x·Wᵀ, the input
// gradient dy·W and the weight gradient dyᵀ·x.
func BenchmarkMatMulModel(b *testing.B) {
	b.Run("forward_4096x128x384", func(b *testing.B) { benchMatMul(b, 4096, 128, 384, false, true) })
	b.Run("dx_4096x384x128", func(b *testing.B) { benchMatMul(b, 4096, 384, 128, false, false) })
	b.Run("dW_128x384x4096", func(b *testing.B) { benchMatMul(b, 128, 384, 4096, true, false) })
}
