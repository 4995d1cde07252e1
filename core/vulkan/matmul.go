//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// matmul.comp's tile of C per workgroup.
const matmulTile = 128

// MatMul computes c = alpha·op(a)·op(w) + beta·c (see core.Backend), one dispatch per call:
// 128×128 tiles of C in x and y, the batch in z.
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	var batch, m, n, k, lda, ldb int
	if w.Rank() == 2 && !transA {
		// Linear layer: a's leading dims flattened into rows.
		k = a.Dim(-1)
		m = a.Len() / k
		var kb int
		n, kb = w.Dim(0), w.Dim(1)
		if !transB {
			kb, n = n, kb
		}
		if kb != k || c.Len() != m*n || c.Dim(-1) != n {
			panic(fmt.Sprintf("vulkan: matmul shapes %v·%v(T=%v) into %v", a, w, transB, c))
		}
		batch, lda, ldb = 1, k, w.Dim(1)
	} else {
		if a.Rank() != w.Rank() || c.Rank() != a.Rank() || (a.Rank() != 2 && a.Rank() != 3) {
			panic(fmt.Sprintf("vulkan: matmul needs 2-D or matching 3-D operands, got %v·%v into %v", a, w, c))
		}
		batch = 1
		if a.Rank() == 3 {
			batch = a.Dim(0)
			if w.Dim(0) != batch || c.Dim(0) != batch {
				panic(fmt.Sprintf("vulkan: matmul batch mismatch %v·%v into %v", a, w, c))
			}
		}
		ar, ac := a.Dim(-2), a.Dim(-1)
		br, bc := w.Dim(-2), w.Dim(-1)
		m, k = ar, ac
		if transA {
			m, k = ac, ar
		}
		kb := br
		n = bc
		if transB {
			kb, n = bc, br
		}
		if kb != k || c.Dim(-2) != m || c.Dim(-1) != n {
			panic(fmt.Sprintf("vulkan: matmul shapes %v(T=%v)·%v(T=%v) into %v", a, transA, w, transB, c))
		}
		lda, ldb = ac, bc
	}
	strideA, strideB := a.Len()/batch, w.Len()/batch
	if batch == 1 {
		strideA, strideB = 0, 0
	}
	groups := [3]uint32{uint32((n + matmulTile - 1) / matmulTile), uint32((m + matmulTile - 1) / matmulTile), uint32(batch)}
	b.dispatch(b.pipeline("matmul", 3, 48), "matmul", groups,
		push(m, n, k, lda, ldb, strideA, strideB, m*n, transA, transB, alpha, beta),
		vk.Write(b.buf(c)), vk.Read(b.buf(a)), vk.Read(b.buf(w)))
}
