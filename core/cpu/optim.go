package cpu

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
)

// AdamW applies one PyTorch-style AdamW step in place.
func (b *Backend) AdamW(param, grad, m, v *core.Tensor, step int, h core.AdamHyper) {
	mustSameLen("adamw", param, grad, m, v)
	if step < 1 {
		panic(fmt.Sprintf("cpu: adamw step %d, want ≥ 1", step))
	}
	p, g, ms, vs := f32(param), f32(grad), f32(m), f32(v)
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(step))
	stepSize := float32(float64(h.LR) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - h.LR*h.WeightDecay
	b.parallel(len(p), 1<<13, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ms[i] = h.Beta1*ms[i] + (1-h.Beta1)*g[i]
			vs[i] = h.Beta2*vs[i] + (1-h.Beta2)*g[i]*g[i]
			denom := float32(math.Sqrt(float64(vs[i])))/sqrtBC2 + h.Eps
			p[i] = p[i]*decay - stepSize*ms[i]/denom
		}
	})
}

// ClipGradNorm measures the global L2 norm (accumulated in float64) and rescales when needed.
func (b *Backend) ClipGradNorm(norm *core.Tensor, grads []*core.Tensor, maxNorm float32) {
	mustShape("clip norm", norm, 1)
	var ss float64
	for _, g := range grads {
		for _, x := range f32(g) {
			ss += float64(x) * float64(x)
		}
	}
	total := float32(math.Sqrt(ss))
	f32(norm)[0] = total
	if maxNorm <= 0 {
		return
	}
	if c := maxNorm / (total + 1e-6); c < 1 {
		for _, g := range grads {
			b.Scale(g, c)
		}
	}
}
