package cpu

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

// SwiGLU writes out = silu(gate)·up, vectorised over chunks.
func (b *Backend) SwiGLU(out, gate, up *core.Tensor) {
	mustSameLen("swiglu", out, gate, up)
	parallel(b, out.Len(), 4096, swigluBody{o: f32(out), g: f32(gate), u: f32(up)})
}

type swigluBody struct{ o, g, u []float32 }

func (t *swigluBody) run(_, lo, hi int) {
	vecmath.SiLUMul(t.o[lo:hi], t.g[lo:hi], t.u[lo:hi])
}

// SwiGLUBackward: d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up *core.Tensor) {
	mustSameLen("swiglu backward", dGate, dUp, dOut, gate, up)
	parallel(b, dOut.Len(), 4096, swigluBwBody{dg: f32(dGate), du: f32(dUp), d: f32(dOut), g: f32(gate), u: f32(up)})
}

type swigluBwBody struct{ dg, du, d, g, u []float32 }

func (t *swigluBwBody) run(_, lo, hi int) {
	vecmath.SiLUMulBackward(t.dg[lo:hi], t.du[lo:hi], t.d[lo:hi], t.g[lo:hi], t.u[lo:hi])
}
