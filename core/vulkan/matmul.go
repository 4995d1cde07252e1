//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// matmul.comp's tile of C per workgroup.
const matmulTile = 128

// MatMul computes c = alpha·op(a)·op(w) + beta·c (see core.Backend), one dispatch per call:
// 128×128 tiles of C in x and y, the batch in z.
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	d, err := core.MatMulShape(c, a, w, transA, transB)
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	groups := [3]uint32{uint32((d.N + matmulTile - 1) / matmulTile), uint32((d.M + matmulTile - 1) / matmulTile), uint32(d.Batch)}
	b.dispatch(b.pipeline("matmul", 3, 48), "matmul", groups,
		push(d.M, d.N, d.K, d.LDA, d.LDB, d.StrideA, d.StrideB, d.M*d.N, transA, transB, alpha, beta),
		vk.Write(b.buf(c)), vk.Read(b.buf(a)), vk.Read(b.buf(w)))
}
