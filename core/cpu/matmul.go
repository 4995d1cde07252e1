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
