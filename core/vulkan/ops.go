//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// Forward and backward variants of a shader (its specialization constant OP).
const (
	forward uint32 = iota
	backward
	backwardWeights // rmsnorm.comp's dw pass
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
	b.dispatch(b.pipeline("embedding", forward, b16(table)), "embedding", groups1D(n*d), push(n, d),
		vk.Write(b.buf(out)), vk.Read(b.buf(table)), vk.Read(b.buf(ids)))
}

// EmbeddingBackward scatter-adds gradient rows into dTable, deterministically (one invocation
// per column walks the ids in order).
func (b *Backend) EmbeddingBackward(dTable, dOut, ids *core.Tensor) {
	d, n := dTable.Dim(1), ids.Len()
	mustType("embedding ids", ids, core.I32)
	if dOut.Len() != n*d {
		panic(fmt.Sprintf("vulkan: embedding backward %v with ids %v into %v", dOut, ids, dTable))
	}
	b.dispatch(b.pipeline("embedding", backward), "embedding backward", groups1D(d), push(n, d),
		vk.Write(b.buf(dTable)), vk.Read(b.buf(dOut)), vk.Read(b.buf(ids)))
}

// rowGroups is the workgroup count for one workgroup per row (capped; shaders loop).
func rowGroups(n int) [3]uint32 { return [3]uint32{uint32(min(max(n, 1), 65535)), 1, 1} }

// rmsnormSerialD is the longest row that rmsnorm.comp walks with one invocation (SERIAL) rather
// than a workgroup on a CPU device: on lavapipe the model's rows of 128 run 16× faster that way.
// A GPU keeps the workgroup per row: there the serial walk's uncoalesced reads made the op 8×
// slower (NVIDIA H200, a rollout's 108 RMSNorms: 0.9 ms → 7.4 ms).
const rmsnormSerialD = 256

// rmsnormRows is the pipeline and grid of a by-row rmsnorm pass over n rows of d.
func (b *Backend) rmsnormRows(op uint32, n, d int) (*vk.Pipeline, [3]uint32) {
	if d <= rmsnormSerialD && b.ctx.Info().Type == "cpu" {
		return b.pipeline("rmsnorm", op, 1), groups1D(n)
	}
	return b.pipeline("rmsnorm", op, 0), rowGroups(n)
}

// RMSNorm normalises each row by its root mean square and scales by w.
func (b *Backend) RMSNorm(out, rstd, x, w *core.Tensor, eps float32) {
	n, d := rows(x)
	mustSameLen("rmsnorm", out, x)
	if w.Len() != d || rstd.Len() != n {
		panic(fmt.Sprintf("vulkan: rmsnorm of %v with weight %v and rstd %v", x, w, rstd))
	}
	xb := b.buf(x)
	pl, groups := b.rmsnormRows(forward, n, d)
	b.dispatch(pl, "rmsnorm", groups, push(n, d, eps, 0),
		vk.Write(b.buf(out)), vk.Write(b.buf(rstd)), vk.Read(xb), vk.Read(b.buf(w)), vk.Read(xb), vk.Read(xb))
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
	pl, groups := b.rmsnormRows(backward, n, d)
	b.dispatch(pl, "rmsnorm backward", groups, push(n, d, float32(0), 0),
		vk.Write(b.buf(dx)), vk.Read(rb), vk.Read(xb), vk.Read(wb), vk.Read(gb), vk.Read(xb))
	chunk := max(rmsnormDWChunk, (n+rmsnormDWChunks-1)/rmsnormDWChunks)
	chunks := max(1, (n+chunk-1)/chunk)
	part := b.Alloc(core.F32, chunks, d)
	defer b.Free(part) // reused only once the recorded passes have run
	pb := b.buf(part)
	b.dispatch(b.pipeline("rmsnorm", backwardWeights, 0), "rmsnorm backward dw", [3]uint32{uint32((d + 255) / 256), uint32(chunks), 1},
		push(n, d, float32(0), chunk), vk.Read(xb), vk.Read(rb), vk.Read(xb), vk.Read(wb), vk.Read(gb), vk.Write(pb))
	b.dispatch(b.pipeline("matmul_reduce"), "rmsnorm backward dw sum", groups1D(d),
		push(d, d, chunks, float32(1), float32(1)), vk.Write(b.buf(dw)), vk.Read(pb))
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
	b.dispatch(b.pipeline("rope"), label, groups1D(nb*seq*heads*half), push(nb*seq, seq, dm, heads, half, sign),
		vk.Write(b.buf(x)), vk.Read(b.buf(tab)))
}

// SwiGLU writes out = silu(gate)·up.
func (b *Backend) SwiGLU(out, gate, up *core.Tensor) {
	mustSameLen("swiglu", out, gate, up)
	n := out.Len()
	ob := b.buf(out)
	b.dispatch(b.pipeline("swiglu", forward), "swiglu", groups1D(n), push(n),
		vk.Write(ob), vk.Read(b.buf(gate)), vk.Read(b.buf(gate)), vk.Read(b.buf(up)), vk.Read(b.buf(up)))
}

// SwiGLUBackward writes dGate and dUp.
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up *core.Tensor) {
	mustSameLen("swiglu backward", dGate, dUp, dOut, gate, up)
	n := dOut.Len()
	b.dispatch(b.pipeline("swiglu", backward), "swiglu backward", groups1D(n), push(n),
		vk.Write(b.buf(dGate)), vk.Write(b.buf(dUp)), vk.Read(b.buf(gate)), vk.Read(b.buf(up)), vk.Read(b.buf(dOut)))
}

// LogSoftmax writes out = log_softmax(x) over the last dim.
func (b *Backend) LogSoftmax(out, x *core.Tensor) {
	n, v := rows(x)
	mustSameLen("logsoftmax", out, x)
	xb := b.buf(x)
	b.dispatch(b.pipeline("logsoftmax", forward), "logsoftmax", rowGroups(n), push(n, v),
		vk.Write(b.buf(out)), vk.Read(xb), vk.Read(xb))
}

// LogSoftmaxBackward writes dx = dOut − softmax·Σ dOut from the forward's output.
func (b *Backend) LogSoftmaxBackward(dx, dOut, out *core.Tensor) {
	n, v := rows(out)
	mustSameLen("logsoftmax backward", dx, dOut, out)
	b.dispatch(b.pipeline("logsoftmax", backward), "logsoftmax backward", rowGroups(n), push(n, v),
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
	b.dispatch(b.pipeline("adamw"), "adamw", groups1D(n),
		push(n, h.Beta1, h.Beta2, h.Eps, stepSize, sqrtBC2, decay),
		vk.Write(b.buf(param)), vk.Read(b.buf(grad)), vk.Write(b.buf(m)), vk.Write(b.buf(v)))
}
