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
	body := &b.ops.matmul
	*body = batchedMatMulBody{d: d, as: as, bs: bs, cs: cs, transA: transA, transB: transB, alpha: alpha, beta: beta}
	b.parallel(d.Batch, 1, body)
	*body = batchedMatMulBody{}
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
