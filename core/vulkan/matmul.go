//go:build linux && cgo

package vulkan

import (
	"fmt"

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
	// A 16-bit weight (B16) is read element by element, so it takes the odd shapes' tiles.
	bits := b16(w)
	if bits != 0 && d.Batch != 1 {
		panic(fmt.Sprintf("vulkan: matmul with a 16-bit operand %v: only a 2-D weight may be 16-bit", w))
	}
	info := b.ctx.Info()
	var spec matmulSpec
	var tileM, tileN int
	if info.Type == "cpu" && info.SubgroupSize == 8 && !matmulForceTiled {
		ra, nb := matmulLanesRAOdd, matmulLanesNBOdd
		if aligned && bits == 0 {
			ra, nb = matmulLanesRA, matmulLanesNB
		}
		tileM, tileN = 8*ra, 32*nb
		spec = matmulSpec{LocalSizeX: 8, TransA: flag(transA), TransB: flag(transB), Vec4: flag(aligned), Lanes: 1,
			RA: uint32(ra), NB: uint32(nb), B16: bits}
	} else {
		// The tiled kernel ignores VEC4 and the tile sizes: keep them fixed, one pipeline per
		// transpose pair.
		tileM, tileN = matmulTile, matmulTile
		spec = matmulSpec{LocalSizeX: 256, TransA: flag(transA), TransB: flag(transB), RA: matmulLanesRA, NB: matmulLanesNB, B16: bits}
		tiles := ((d.M + tileM - 1) / tileM) * ((d.N + tileN - 1) / tileN) * d.Batch
		if splits, chunk := splitK(tiles, d.K); splits > 1 {
			b.matmulSplitK(d, spec, splits, chunk, bc, ba, bw, alpha, beta)
			return
		}
	}
	groups := [3]uint32{uint32((d.N + tileN - 1) / tileN), uint32((d.M + tileM - 1) / tileM), uint32(d.Batch)}
	pc := matmulPushOf(d)
	pc.StrideC, pc.Alpha, pc.Beta, pc.Splits, pc.Chunk = uint32(d.M*d.N), alpha, beta, 1, uint32(d.K)
	matmulShader.dispatch(b, spec, "matmul", groups, pc, vk.Write(bc), vk.Read(ba), vk.Read(bw))
}

// matmulForceTiled makes every device take the tiled (GPU) kernel, so that tests run it on
// lavapipe too.
var matmulForceTiled bool

// Split-K: a product with few tiles of C and a long K (a weight gradient dYᵀ·X: 128×384 over
// 4096 tokens is 3 tiles) would leave a GPU nearly idle, so K is cut into chunks that
// workgroups sum separately (matmulSplitTarget workgroups in all, at most, and chunks of at
// least matmulMinChunk, a multiple of the kernel's BK = 8), then added up in a second pass.
const (
	matmulSplitTarget = 128
	matmulMinChunk    = 128
)

// splitK returns how many chunks of K a product of tiles tiles should be split into, and the
// chunk length; 1 split means no split.
func splitK(tiles, k int) (splits, chunk int) {
	splits = min(matmulSplitTarget/max(tiles, 1), k/matmulMinChunk)
	if splits <= 1 {
		return 1, k
	}
	chunk = ((k+splits-1)/splits + 7) / 8 * 8
	return (k + chunk - 1) / chunk, chunk
}

// matmulSplitK runs the tiled kernel over K chunks into a scratch of partial products, then
// matmul_reduce.comp: c = alpha·Σ partials + beta·c.
func (b *Backend) matmulSplitK(d core.MatMulDims, spec matmulSpec, splits, chunk int, bc, ba, bw vk.Buffer, alpha, beta float32) {
	mn := d.M * d.N
	part := b.Alloc(core.F32, d.Batch*splits*mn)
	defer b.Free(part) // reused only once the recorded passes have run
	pb := b.buf(part)
	groups := [3]uint32{uint32((d.N + matmulTile - 1) / matmulTile), uint32((d.M + matmulTile - 1) / matmulTile), uint32(d.Batch * splits)}
	pc := matmulPushOf(d)
	pc.StrideC, pc.Alpha, pc.Beta, pc.Splits, pc.Chunk = uint32(mn), 1, 0, uint32(splits), uint32(chunk)
	matmulShader.dispatch(b, spec, "matmul split-k", groups, pc, vk.Write(pb), vk.Read(ba), vk.Read(bw))
	matmulReduceShader.dispatch(b, noSpec{}, "matmul split-k sum", groups1D(d.Batch*mn),
		matmulReducePush{N: uint32(d.Batch * mn), MN: uint32(mn), Splits: uint32(splits), Alpha: alpha, Beta: beta},
		vk.Write(bc), vk.Read(pb))
}

// matmulPushOf is the push constants of a product's shape and operand layout; the caller sets
// C's stride, the scalars and the split.
func matmulPushOf(d core.MatMulDims) matmulPush {
	return matmulPush{M: uint32(d.M), N: uint32(d.N), K: uint32(d.K), LDA: uint32(d.LDA), LDB: uint32(d.LDB),
		StrideA: uint32(d.StrideA), StrideB: uint32(d.StrideB)}
}

// b16 is the B16 specialization constant of matmul.comp and embedding.comp for operand t:
// 0 for float, 1 for bfloat16, 2 for IEEE half.
func b16(t *core.Tensor) uint32 {
	switch t.DType() {
	case core.BF16:
		return 1
	case core.F16:
		return 2
	}
	return 0
}

// flag is a boolean specialization constant.
func flag(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}
