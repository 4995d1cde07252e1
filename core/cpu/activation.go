package cpu

import (
	"github.com/dllmrl/agrpo/core"
)

func sigmoid(x float32) float32 { return 1 / (1 + exp32(-x)) }

// SwiGLU writes out = silu(gate)·up.
func (b *Backend) SwiGLU(out, gate, up *core.Tensor) {
	mustSameLen("swiglu", out, gate, up)
	o, g, u := f32(out), f32(gate), f32(up)
	b.parallel(len(o), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = g[i] * sigmoid(g[i]) * u[i]
		}
	})
}

// SwiGLUBackward: d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up *core.Tensor) {
	mustSameLen("swiglu backward", dGate, dUp, dOut, gate, up)
	dg, du, d, g, u := f32(dGate), f32(dUp), f32(dOut), f32(gate), f32(up)
	b.parallel(len(d), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := sigmoid(g[i])
			du[i] = d[i] * g[i] * s
			dg[i] = d[i] * u[i] * s * (1 + g[i]*(1-s))
		}
	})
}
