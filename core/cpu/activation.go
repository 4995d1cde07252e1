package cpu

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

// SwiGLU writes out = silu(gate)·up, vectorised over chunks.
func (b *Backend) SwiGLU(out, gate, up *core.Tensor) {
	mustSameLen("swiglu", out, gate, up)
	o, g, u := f32(out), f32(gate), f32(up)
	b.parallel(len(o), 4096, func(lo, hi int) {
		vecmath.SiLUMul(o[lo:hi], g[lo:hi], u[lo:hi])
	})
}

// SwiGLUBackward: d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up *core.Tensor) {
	mustSameLen("swiglu backward", dGate, dUp, dOut, gate, up)
	dg, du, d, g, u := f32(dGate), f32(dUp), f32(dOut), f32(gate), f32(up)
	b.parallel(len(d), 4096, func(lo, hi int) {
		vecmath.SiLUMulBackward(dg[lo:hi], du[lo:hi], d[lo:hi], g[lo:hi], u[lo:hi])
	})
}
