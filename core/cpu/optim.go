package cpu

import (
	"math"

	"github.com/dllmrl/agrpo/core"
)

// AdamW applies one PyTorch-style AdamW step in place.
func (b *Backend) AdamW(param, grad, m, v *core.Tensor, step int, h core.AdamHyper) {
	mustSameLen("adamw", param, grad, m, v)
	stepSize, sqrtBC2, decay, err := h.StepScalars(step)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	parallel(b, param.Len(), 1<<13, adamwBody{p: f32(param), g: f32(grad), ms: f32(m), vs: f32(v), h: h, stepSize: stepSize, sqrtBC2: sqrtBC2, decay: decay})
}

type adamwBody struct {
	p, g, ms, vs             []float32
	h                        core.AdamHyper
	stepSize, sqrtBC2, decay float32
}

func (t *adamwBody) run(_, lo, hi int) {
	p, g, ms, vs, h, stepSize, sqrtBC2, decay := t.p, t.g, t.ms, t.vs, t.h, t.stepSize, t.sqrtBC2, t.decay
	for i := lo; i < hi; i++ {
		ms[i] = h.Beta1*ms[i] + (1-h.Beta1)*g[i]
		vs[i] = h.Beta2*vs[i] + (1-h.Beta2)*g[i]*g[i]
		denom := float32(math.Sqrt(float64(vs[i])))/sqrtBC2 + h.Eps
		p[i] = p[i]*decay - stepSize*ms[i]/denom
	}
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
