package cpu

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
)

// MatMul computes c = alpha·op(a)·op(b) + beta·c (see core.Backend).
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	if w.Rank() == 2 && !transA {
		// Linear layer: flatten a's leading dims into rows.
		k := a.Dim(-1)
		m := a.Len() / k
		n, kb := w.Dim(0), w.Dim(1)
		if !transB {
			kb, n = n, kb
		}
		if kb != k || c.Len() != m*n || c.Dim(-1) != n {
			panic(fmt.Sprintf("cpu: matmul shapes %v·%v(T=%v) into %v", a, w, transB, c))
		}
		gemm.Sgemm(false, transB, m, n, k, alpha, f32(a), k, f32(w), w.Dim(1), beta, f32(c), n)
		return
	}
	if a.Rank() != w.Rank() || c.Rank() != a.Rank() || (a.Rank() != 2 && a.Rank() != 3) {
		panic(fmt.Sprintf("cpu: matmul needs 2-D or matching 3-D operands, got %v·%v into %v", a, w, c))
	}
	batch := 1
	if a.Rank() == 3 {
		batch = a.Dim(0)
		if w.Dim(0) != batch || c.Dim(0) != batch {
			panic(fmt.Sprintf("cpu: matmul batch mismatch %v·%v into %v", a, w, c))
		}
	}
	ar, ac := a.Dim(-2), a.Dim(-1)
	br, bc := w.Dim(-2), w.Dim(-1)
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if kb != k || c.Dim(-2) != m || c.Dim(-1) != n {
		panic(fmt.Sprintf("cpu: matmul shapes %v(T=%v)·%v(T=%v) into %v", a, transA, w, transB, c))
	}
	as, bs, cs := f32(a), f32(w), f32(c)
	if batch == 1 {
		gemm.Sgemm(transA, transB, m, n, k, alpha, as, ac, bs, bc, beta, cs, n)
		return
	}
	// Batched: one serial GEMM per batch entry, entries spread over the workers.
	b.parallel(batch, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm.SgemmSerial(transA, transB, m, n, k, alpha, as[i*ar*ac:], ac, bs[i*br*bc:], bc, beta, cs[i*m*n:], n)
		}
	})
}
