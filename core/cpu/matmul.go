package cpu

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
)

// MatMul computes c = alpha·op(a)·op(b) + beta·c (see core.Backend).
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	d, err := core.MatMulShape(c, a, w, transA, transB)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	if w.DType() == core.BF16 || w.DType() == core.F16 {
		if d.Batch != 1 {
			panic(fmt.Sprintf("cpu: matmul with a 16-bit operand %v: only a 2-D weight may be 16-bit", w))
		}
		ws, _ := u16(w)
		gemm.Sgemm16(transA, transB, d.M, d.N, d.K, alpha, f32(a), d.LDA, ws, w.DType() == core.F16, d.LDB, beta, f32(c), d.N)
		return
	}
	as, bs, cs := f32r(a), f32r(w), f32(c)
	if d.Batch == 1 {
		wb := buf(w)
		if wb == buf(c) { // C overwrites B's storage: nothing to keep
			gemm.Sgemm(transA, transB, d.M, d.N, d.K, alpha, as, d.LDA, bs, d.LDB, beta, cs, d.N)
			return
		}
		pk := wb.packed(w.Offset(), transB, d.K, d.N, d.LDB)
		valid := pk.filled && pk.gen == wb.gen
		pk.filled = gemm.SgemmPackedB(transA, transB, d.M, d.N, d.K, alpha, as, d.LDA, bs, d.LDB, &pk.pb, valid, beta, cs, d.N)
		pk.gen = wb.gen
		return
	}
	// Batched: one serial GEMM per batch entry, entries spread over the workers.
	parallel(b, d.Batch, 1, batchedMatMulBody{d: d, as: as, bs: bs, cs: cs, transA: transA, transB: transB, alpha: alpha, beta: beta})
}

type batchedMatMulBody struct {
	d              core.MatMulDims
	as, bs, cs     []float32
	transA, transB bool
	alpha, beta    float32
}

func (t *batchedMatMulBody) run(_, lo, hi int) {
	d := &t.d
	for i := lo; i < hi; i++ {
		gemm.SgemmSerial(t.transA, t.transB, d.M, d.N, d.K, t.alpha, t.as[i*d.StrideA:], d.LDA, t.bs[i*d.StrideB:], d.LDB, t.beta, t.cs[i*d.M*d.N:], d.N)
	}
}

// packedB is op(B) of one view of a tensor (B's offset, transpose, k×n and row stride), packed
// by gemm for the products that multiply by it: a weight's Wᵀ is packed once per optimizer
// step instead of once per task of every forward. It is valid while its storage's gen equals
// gen (f32Buf.gen).
type packedB struct {
	off, ldb, k, n int
	transB         bool
	filled         bool
	gen            uint64
	pb             gemm.PackedB
}

// maxPacks is how many packed views a storage keeps: a weight is multiplied as Wᵀ in the
// forward and as W in the backward.
const maxPacks = 2

// packed returns the storage's packed view for these parameters, reusing the least recently
// used one (its buffer too) when the storage already keeps maxPacks others.
func (s *f32Buf) packed(off int, transB bool, k, n, ldb int) *packedB {
	for i, p := range s.packs {
		if p.off == off && p.transB == transB && p.k == k && p.n == n && p.ldb == ldb {
			copy(s.packs[1:i+1], s.packs[:i]) // most recently used first
			s.packs[0] = p
			return p
		}
	}
	var p *packedB
	if len(s.packs) < maxPacks {
		p = new(packedB)
		s.packs = append(s.packs, nil)
	} else {
		p = s.packs[len(s.packs)-1]
	}
	copy(s.packs[1:], s.packs[:len(s.packs)-1])
	s.packs[0] = p
	*p = packedB{off: off, ldb: ldb, k: k, n: n, transB: transB, pb: p.pb}
	return p
}
