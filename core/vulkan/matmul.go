//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// matmul.comp's register tiles for its LANES kernel (see the shader): RA vec4 loads of A per lane
// make 8·RA rows, NB vec4 columns per lane make 32·NB columns. Bigger tiles load less per
// multiply-add, which is what counts on lavapipe, but LLVM's compile time grows with them. The
// aligned (vec4) variant, which the model's shapes all take, gets 64×128 (1024 accumulators per
// lane): it fits the model's widths (128, 384) and compiles in about 3 s; 64×256 was about 20 %
// faster at 1024³ but wastes half its columns at width 128. Odd shapes, which are small here,
// get 32×64: about 1 s to compile, 60 % of the speed.
const (
	matmulLanesRA, matmulLanesNB       = 8, 4
	matmulLanesRAOdd, matmulLanesNBOdd = 4, 2
	matmulTile                         = 128 // the GPU kernel's tile of C, both ways
)

// MatMul computes c = alpha·op(a)·op(w) + beta·c (see core.Backend), one dispatch per call: tiles
// of C in x and y, the batch in z. The variant of matmul.comp is chosen here from the device,
// the transposes and the operands' alignment; each is its own cached pipeline.
func (b *Backend) MatMul(c, a, w *core.Tensor, transA, transB bool, alpha, beta float32) {
	d, err := core.MatMulShape(c, a, w, transA, transB)
	if err != nil {
		panic("vulkan: " + err.Error())
	}
	bc, ba, bw := b.buf(c), b.buf(a), b.buf(w)
	// vec4 reads need every row and batch entry to start on 16 bytes. A binding at an offset
	// the device cannot bind is copied to a fresh, aligned buffer by the stream, so an offset
	// that is a multiple of 16 is aligned either way.
	aligned := d.LDA%4 == 0 && d.LDB%4 == 0 && d.N%4 == 0 && d.StrideA%4 == 0 && d.StrideB%4 == 0 &&
		ba.Offset%16 == 0 && bw.Offset%16 == 0 && bc.Offset%16 == 0

	// The LANES kernel shares A values across one subgroup of 8 lanes with subgroupBroadcast,
	// so it runs only where a workgroup of 8 is one subgroup: CPU devices (lavapipe) that report
	// 8-wide subgroups. Everything else gets the tiled kernel, which assumes nothing about
	// subgroups.
	// spec: matmul.comp's constant_ids 0-6: workgroup size, TRANS_A, TRANS_B, VEC4, LANES, RA, NB.
	info := b.ctx.Info()
	var spec []uint32
	var tileM, tileN int
	if info.Type == "cpu" && info.SubgroupSize == 8 {
		ra, nb := matmulLanesRAOdd, matmulLanesNBOdd
		if aligned {
			ra, nb = matmulLanesRA, matmulLanesNB
		}
		tileM, tileN = 8*ra, 32*nb
		spec = []uint32{8, flag(transA), flag(transB), flag(aligned), 1, uint32(ra), uint32(nb)}
	} else {
		// The tiled kernel ignores VEC4 and the tile sizes: keep them fixed, one pipeline per
		// transpose pair.
		tileM, tileN = matmulTile, matmulTile
		spec = []uint32{256, flag(transA), flag(transB), 0, 0, matmulLanesRA, matmulLanesNB}
	}
	groups := [3]uint32{uint32((d.N + tileN - 1) / tileN), uint32((d.M + tileM - 1) / tileM), uint32(d.Batch)}
	// The push block ends in two pad words: see matmul.comp.
	b.dispatch(b.pipeline("matmul", 3, 48, spec...), "matmul", groups,
		push(d.M, d.N, d.K, d.LDA, d.LDB, d.StrideA, d.StrideB, d.M*d.N, alpha, beta, 0, 0),
		vk.Write(bc), vk.Read(ba), vk.Read(bw))
}

// flag is a boolean specialization constant.
func flag(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}
