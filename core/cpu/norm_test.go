package cpu

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// BenchmarkRMSNorm times the forward and the backward at a rollout's shape: 128 × 25 rows of
// the demo model's width 128.
func BenchmarkRMSNorm(b *testing.B) {
	be := New()
	const n, d = 128 * 25, 128
	x, w, g := be.Alloc(core.F32, n, d), be.Alloc(core.F32, d), be.Alloc(core.F32, n, d)
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(i%13) - 6
	}
	be.Upload(x, v)
	be.Upload(g, v)
	be.Fill(w, 1)
	out, rstd, dx, dw := be.Alloc(core.F32, n, d), be.Alloc(core.F32, n), be.Alloc(core.F32, n, d), be.Alloc(core.F32, d)
	b.Run("forward", func(b *testing.B) {
		for range b.N {
			be.RMSNorm(out, rstd, x, w, 1e-5)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for range b.N {
			be.RMSNormBackward(dx, dw, g, x, w, rstd)
		}
	})
}
