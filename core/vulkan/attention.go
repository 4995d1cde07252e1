//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// attnMaxHeadDim is the largest head dim the attention shaders take: each lane of a group
// of 8 accumulates at most 4 vec4 columns of an output row (8·4·4 = 128 floats).
const attnMaxHeadDim = 128

// Passes of the attention shaders, for their shared-memory sizes (attnShared).
const (
	attnForward   = iota // attention.comp
	attnBackwardQ        // attention_backward.comp OP 0: dq and D
	attnBackwardK        // attention_backward.comp OP 1: dk and dv
)

// attnTileChoices are the (RQ, RK) specialisations tried in order, largest tiles first: the
// tiles hold BQ = 8·RQ query rows and BK = 8·RK keys.
var attnTileChoices = [...][2]int{{4, 4}, {4, 2}, {2, 4}, {2, 2}, {2, 1}, {1, 2}, {1, 1}}

// attnShared is the shared memory in bytes that a pass declares for head dim d4 vec4s and tiles
// (rq, rk); it mirrors the shared arrays of the shaders, padded rows (d4+1) included. The
// validation layer computes the same number from the specialised shader and reports a pipeline
// over the device's limit, so the tests (which run with validation) catch a mismatch.
func attnShared(pass, d4, rq, rk int) int {
	bq, bk, ks := 8*rq, 8*rk, d4+1
	switch pass {
	case attnForward: // Qs, KVs, Ps, Ms, okS
		return 16*(bq*d4+bk*ks) + 4*(bq*bk+bq*8+bk)
	case attnBackwardQ: // Qs, Gs (rows of d4), Ks, Vs (padded), Ss, Ps (1), okS
		return 16*(2*bq*d4+2*bk*ks) + 4*(bq*bk+1+bk)
	default: // Qs, Gs (padded), Ks, Vs (rows of d4), Ss, Ps, okS
		return 16*(2*bq*ks+2*bk*d4) + 4*(2*bq*bk+bk)
	}
}

// attnForceTiles, when not zero, replaces the tile choice of every pass, so that tests can run
// each specialisation on one device.
var attnForceTiles [2]int

// attnTiles picks the largest tiles of a pass whose shared arrays fit the device. The smallest,
// (1, 1), needs under 17 KiB at Dh = 128, so any device with the 32 KiB that lavapipe and every
// desktop GPU have takes every head dim up to attnMaxHeadDim; one with less panics here rather
// than fail at pipeline creation.
func (b *Backend) attnTiles(pass, d4 int) (rq, rk int) {
	if attnForceTiles != [2]int{} {
		return attnForceTiles[0], attnForceTiles[1]
	}
	limit := int(b.ctx.Info().SharedMemoryBytes)
	for _, t := range attnTileChoices {
		if attnShared(pass, d4, t[0], t[1]) <= limit {
			return t[0], t[1]
		}
	}
	panic(fmt.Sprintf("vulkan: attention: head dim %d needs %d bytes of shared memory, the device has %d",
		4*d4, attnShared(pass, d4, 1, 1), limit))
}

// attnDims checks the result of core.AttentionShape (or AttentionBackwardShape), panicking on a
// shape error or a head dim over the shaders' maximum, as other misuse does.
func attnDims(op string, d core.AttentionDims, err error) core.AttentionDims {
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	if d.HeadDim > attnMaxHeadDim {
		panic(fmt.Sprintf("vulkan: %s: head dim %d > max %d", op, d.HeadDim, attnMaxHeadDim))
	}
	return d
}

// attnGrid is the workgroup grid of a pass: one workgroup per tile of rows, head and batch row.
func attnGrid(seq, tile, heads, nb int) [3]uint32 {
	return [3]uint32{uint32((seq + tile - 1) / tile), uint32(heads), uint32(nb)}
}

// attnPush is the push constants both attention shaders take; scale is 1/√Dh.
func attnPush(d core.AttentionDims, heads int) attentionPush {
	return attentionPush{Seq: uint32(d.Seq), Heads: uint32(heads), KVHeads: uint32(d.KVHeads), HD: uint32(d.HeadDim),
		Scale: float32(1 / math.Sqrt(float64(d.HeadDim)))}
}

// Attention runs attention.comp: one workgroup per (query tile, head, batch row) walks the key
// tiles with an online softmax, so scores and probabilities never reach global memory, and writes
// out and lse. A query with no real key gets out 0 and lse −Inf, as on the CPU backend.
func (b *Backend) Attention(out, lse, q, k, v, keyMask *core.Tensor, heads int) {
	d, err := core.AttentionShape(out, lse, q, k, v, keyMask, heads)
	d = attnDims("attention", d, err)
	nb, seq, hd := d.Batch, d.Seq, d.HeadDim
	if nb == 0 || seq == 0 || hd == 0 {
		return
	}
	d4 := (hd + 3) / 4
	rq, rk := b.attnTiles(attnForward, d4)
	attentionShader.dispatch(b, attentionSpec{D4: uint32(d4), RQ: uint32(rq), RK: uint32(rk)}, "attention",
		attnGrid(seq, 8*rq, heads, nb), attnPush(d, heads),
		vk.Write(b.buf(out)), vk.Write(b.buf(lse)), vk.Read(b.buf(q)), vk.Read(b.buf(k)), vk.Read(b.buf(v)),
		vk.Read(b.buf(keyMask)))
}

// AttentionBackward runs attention_backward.comp in two passes that need no atomics: per query
// tile, dq (and D = rowsum(dOut ⊙ out) into a scratch buffer); then per key tile, dk and dv,
// reading D. Both recompute the probabilities from lse. A query with no real key (lse −Inf)
// gets zero gradients and contributes none: its output is the constant 0, as on the CPU. The
// second pass runs per key/value head and walks the query heads that share it (grouped-query
// attention), so dk and dv sum over them without atomics.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *core.Tensor, heads int) {
	d, err := core.AttentionBackwardShape(dq, dk, dv, dOut, q, k, v, out, lse, keyMask, heads)
	d = attnDims("attention backward", d, err)
	nb, seq, hd := d.Batch, d.Seq, d.HeadDim
	if nb == 0 || seq == 0 || hd == 0 {
		return
	}
	d4 := (hd + 3) / 4
	dBuf := b.Alloc(core.F32, nb, heads, seq)
	defer b.Free(dBuf) // reused only once the recorded passes have run
	dqb, dkb, dvb, db := b.buf(dq), b.buf(dk), b.buf(dv), b.buf(dBuf)
	ins := []vk.Binding{vk.Read(b.buf(dOut)), vk.Read(b.buf(q)), vk.Read(b.buf(k)), vk.Read(b.buf(v)),
		vk.Read(b.buf(out)), vk.Read(b.buf(lse)), vk.Read(b.buf(keyMask))}
	pc := attnPush(d, heads)

	rq, rk := b.attnTiles(attnBackwardQ, d4)
	attentionBackwardShader.dispatch(b, attentionBackwardSpec{Op: 0, D4: uint32(d4), RQ: uint32(rq), RK: uint32(rk)}, "attention backward dq",
		attnGrid(seq, 8*rq, heads, nb), pc, append([]vk.Binding{vk.Write(dqb), b.unused(), vk.Write(db)}, ins...)...)

	rq, rk = b.attnTiles(attnBackwardK, d4)
	attentionBackwardShader.dispatch(b, attentionBackwardSpec{Op: 1, D4: uint32(d4), RQ: uint32(rq), RK: uint32(rk)}, "attention backward dk dv",
		attnGrid(seq, 8*rk, d.KVHeads, nb), pc, append([]vk.Binding{vk.Write(dkb), vk.Write(dvb), vk.Read(db)}, ins...)...)
}
