package cpu

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
)

// MatMul computes c = alpha·op(a)·op(b) + beta·c (see core.Backend).
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	d, err := core.MatMulShape(c, a, w, transA, transB)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	as, bs, cs := f32(a), f32(w), f32(c)
	if d.Batch == 1 {
		gemm.Sgemm(transA, transB, d.M, d.N, d.K, alpha, as, d.LDA, bs, d.LDB, beta, cs, d.N)
		return
	}
	// Batched: one serial GEMM per batch entry, entries spread over the workers.
	b.parallel(d.Batch, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm.SgemmSerial(transA, transB, d.M, d.N, d.K, alpha, as[i*d.StrideA:], d.LDA, bs[i*d.StrideB:], d.LDB, beta, cs[i*d.M*d.N:], d.N)
		}
	})
}
