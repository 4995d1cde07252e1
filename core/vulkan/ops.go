//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

func rows(t *core.Tensor) (int, int) {
	d := t.Dim(-1)
	return t.Len() / d, d
}

// Embedding gathers table rows by id.
func (b *Backend) Embedding(out, table, ids *core.Tensor) {
	d, n := table.Dim(1), ids.Len()
	mustType("embedding ids", ids, core.I32)
	if out.Len() != n*d {
		panic(fmt.Sprintf("vulkan: embedding %v rows of %v into %v", ids, table, out))
	}
	embeddingShader.dispatch(b, embeddingSpec{Op: forward, B16: b16(table)}, "embedding", groups1D(n*d),
		embeddingPush{N: uint32(n), D: uint32(d)}, vk.Write(b.buf(out)), vk.Read(b.buf(table)), vk.Read(b.buf(ids)))
}

// EmbeddingBackward scatter-adds gradient rows into dTable, deterministically (one invocation
// per column walks the ids in order).
func (b *Backend) EmbeddingBackward(dTable, dOut, ids *core.Tensor) {
	d, n := dTable.Dim(1), ids.Len()
	mustType("embedding ids", ids, core.I32)
	if dOut.Len() != n*d {
		panic(fmt.Sprintf("vulkan: embedding backward %v with ids %v into %v", dOut, ids, dTable))
	}
	embeddingShader.dispatch(b, embeddingSpec{Op: backward}, "embedding backward", groups1D(d),
		embeddingPush{N: uint32(n), D: uint32(d)}, vk.Write(b.buf(dTable)), vk.Read(b.buf(dOut)), vk.Read(b.buf(ids)))
}

// rowGroups is the workgroup count for one workgroup per row (capped; shaders loop).
func rowGroups(n int) [3]uint32 { return [3]uint32{uint32(min(max(n, 1), 65535)), 1, 1} }

// rmsnormSerialD is the longest row that rmsnorm.comp walks with one invocation (SERIAL) rather
// than a workgroup on a CPU device: on lavapipe the model's rows of 128 run 16× faster that way.
// A GPU keeps the workgroup per row: there the serial walk's uncoalesced reads made the op 8×
// slower (NVIDIA H200, a rollout's 108 RMSNorms: 0.9 ms → 7.4 ms).
const rmsnormSerialD = 256

// rmsnormRows is the specialisation and grid of a by-row rmsnorm pass over n rows of d.
func (b *Backend) rmsnormRows(op uint32, n, d int) (rmsnormSpec, [3]uint32) {
	if d <= rmsnormSerialD && b.ctx.Info().Type == "cpu" {
		return rmsnormSpec{Op: op, Serial: 1}, groups1D(n)
	}
	return rmsnormSpec{Op: op}, rowGroups(n)
}

// RMSNorm normalises each row by its root mean square and scales by w.
func (b *Backend) RMSNorm(out, rstd, x, w *core.Tensor, eps float32) {
	n, d := rows(x)
	mustSameLen("rmsnorm", out, x)
	if w.Len() != d || rstd.Len() != n {
		panic(fmt.Sprintf("vulkan: rmsnorm of %v with weight %v and rstd %v", x, w, rstd))
	}
	spec, groups := b.rmsnormRows(forward, n, d)
	rmsnormShader.dispatch(b, spec, "rmsnorm", groups, rmsnormPush{Rows: uint32(n), D: uint32(d), Eps: eps},
		vk.Write(b.buf(out)), vk.Write(b.buf(rstd)), vk.Read(b.buf(x)), vk.Read(b.buf(w)), b.unused(), b.unused())
}

// rmsnormDWChunk is the fewest rows a chunk of RMSNorm's dw pass sums; there are at most
// rmsnormDWChunks chunks (a GPU's parallelism, for the model's 128 columns).
const rmsnormDWChunk, rmsnormDWChunks = 64, 64

// RMSNormBackward adds the input gradient into dx and accumulates dw: a pass per row for dx,
// then a pass per (column, chunk of rows) for partial dw, added into dw in order.
func (b *Backend) RMSNormBackward(dx, dw, dOut, x, w, rstd *core.Tensor) {
	n, d := rows(x)
	mustSameLen("rmsnorm backward", dx, x, dOut)
	if w.Len() != d || dw.Len() != d || rstd.Len() != n {
		panic(fmt.Sprintf("vulkan: rmsnorm backward of %v with weight %v, dw %v, rstd %v", x, w, dw, rstd))
	}
	xb, wb, gb, rb := b.buf(x), b.buf(w), b.buf(dOut), b.buf(rstd)
	spec, groups := b.rmsnormRows(backward, n, d)
	rmsnormShader.dispatch(b, spec, "rmsnorm backward", groups, rmsnormPush{Rows: uint32(n), D: uint32(d)},
		vk.Write(b.buf(dx)), vk.Read(rb), vk.Read(xb), vk.Read(wb), vk.Read(gb), b.unused())
	chunk := max(rmsnormDWChunk, (n+rmsnormDWChunks-1)/rmsnormDWChunks)
	chunks := max(1, (n+chunk-1)/chunk)
	part := b.Alloc(core.F32, chunks, d)
	defer b.Free(part) // reused only once the recorded passes have run
	pb := b.buf(part)
	rmsnormShader.dispatch(b, rmsnormSpec{Op: backwardWeights}, "rmsnorm backward dw", [3]uint32{uint32((d + 255) / 256), uint32(chunks), 1},
		rmsnormPush{Rows: uint32(n), D: uint32(d), Chunk: uint32(chunk)},
		b.unused(), vk.Read(rb), vk.Read(xb), b.unused(), vk.Read(gb), vk.Write(pb))
	matmulReduceShader.dispatch(b, noSpec{}, "rmsnorm backward dw sum", groups1D(d),
		matmulReducePush{N: uint32(d), MN: uint32(d), Splits: uint32(chunks), Alpha: 1, Beta: 1}, vk.Write(b.buf(dw)), vk.Read(pb))
}

type ropeKey struct {
	seq, headDim int
	theta        float32
}

// ropeTable returns the device table of cos and sin per (position, frequency), computed in
// float64 on the host once per shape and kept for the backend's life.
func (b *Backend) ropeTable(seq, headDim int, theta float32) *core.Tensor {
	key := ropeKey{seq, headDim, theta}
	if t, ok := b.rope[key]; ok {
		return t
	}
	half := headDim / 2
	v := make([]float32, seq*half*2)
	for p := 0; p < seq; p++ {
		for i := 0; i < half; i++ {
			v[(p*half+i)*2], v[(p*half+i)*2+1] = core.RoPECosSin(p, i, headDim, theta)
		}
	}
	t := b.Alloc(core.F32, len(v))
	b.Upload(t, v)
	b.rope[key] = t
	return t
}

// RoPE rotates query or key vectors in place.
func (b *Backend) RoPE(x *core.Tensor, heads int, theta float32) { b.rotate(x, heads, theta, 1) }

// RoPEBackward rotates by the negative angles, the transpose of the forward rotation.
func (b *Backend) RoPEBackward(dx *core.Tensor, heads int, theta float32) {
	b.rotate(dx, heads, theta, -1)
}

func (b *Backend) rotate(x *core.Tensor, heads int, theta, sign float32) {
	if x.Rank() != 3 || x.Dim(2)%(2*heads) != 0 {
		panic("vulkan: rope needs x [B, L, H·Dh] with even head size, got " + x.String())
	}
	nb, seq, dm := x.Dim(0), x.Dim(1), x.Dim(2)
	half := dm / heads / 2
	tab := b.ropeTable(seq, 2*half, theta)
	label := "rope"
	if sign < 0 {
		label = "rope backward"
	}
	ropeShader.dispatch(b, noSpec{}, label, groups1D(nb*seq*heads*half),
		ropePush{Rows: uint32(nb * seq), Seq: uint32(seq), DM: uint32(dm), Heads: uint32(heads), Half: uint32(half), Sign: sign},
		vk.Write(b.buf(x)), vk.Read(b.buf(tab)))
}

// SwiGLU writes out = silu(gate)·up.
func (b *Backend) SwiGLU(out, gate, up *core.Tensor) {
	mustSameLen("swiglu", out, gate, up)
	n := out.Len()
	swigluShader.dispatch(b, opSpec{forward}, "swiglu", groups1D(n), swigluPush{N: uint32(n)},
		vk.Write(b.buf(out)), b.unused(), vk.Read(b.buf(gate)), vk.Read(b.buf(up)), b.unused())
}

// SwiGLUBackward writes dGate and dUp.
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up *core.Tensor) {
	mustSameLen("swiglu backward", dGate, dUp, dOut, gate, up)
	n := dOut.Len()
	swigluShader.dispatch(b, opSpec{backward}, "swiglu backward", groups1D(n), swigluPush{N: uint32(n)},
		vk.Write(b.buf(dGate)), vk.Write(b.buf(dUp)), vk.Read(b.buf(gate)), vk.Read(b.buf(up)), vk.Read(b.buf(dOut)))
}

// LogSoftmax writes out = log_softmax(x) over the last dim.
func (b *Backend) LogSoftmax(out, x *core.Tensor) {
	n, v := rows(x)
	mustSameLen("logsoftmax", out, x)
	logsoftmaxShader.dispatch(b, opSpec{forward}, "logsoftmax", rowGroups(n), logsoftmaxPush{Rows: uint32(n), V: uint32(v)},
		vk.Write(b.buf(out)), vk.Read(b.buf(x)), b.unused())
}

// LogSoftmaxBackward writes dx = dOut − softmax·Σ dOut from the forward's output.
func (b *Backend) LogSoftmaxBackward(dx, dOut, out *core.Tensor) {
	n, v := rows(out)
	mustSameLen("logsoftmax backward", dx, dOut, out)
	logsoftmaxShader.dispatch(b, opSpec{backward}, "logsoftmax backward", rowGroups(n), logsoftmaxPush{Rows: uint32(n), V: uint32(v)},
		vk.Write(b.buf(dx)), vk.Read(b.buf(dOut)), vk.Read(b.buf(out)))
}

// AdamW applies one PyTorch-style AdamW step in place.
func (b *Backend) AdamW(param, grad, m, v *core.Tensor, step int, h core.AdamHyper) {
	mustSameLen("adamw", param, grad, m, v)
	stepSize, sqrtBC2, decay, err := h.StepScalars(step)
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	n := param.Len()
	adamwShader.dispatch(b, noSpec{}, "adamw", groups1D(n),
		adamwPush{N: uint32(n), Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, StepSize: stepSize, SqrtBC2: sqrtBC2, Decay: decay},
		vk.Write(b.buf(param)), vk.Read(b.buf(grad)), vk.Write(b.buf(m)), vk.Write(b.buf(v)))
}
