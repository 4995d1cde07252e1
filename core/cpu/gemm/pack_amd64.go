//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The packers below serve the assembly kernels' panel widths (6 and 16 for
// avx2, 12 and 32 for avx512) with AVX (ymm) moves and shuffles, so they
// run wherever either kernel can. Each returns false (or 0) for a case it
// does not cover, and the Go packer runs.
var packAsm = cpu.X86.HasAVX2

// packContigFast packs `panels` full w-wide panels whose k-steps are
// contiguous runs in src (see packContig).
func packContigFast(dst, src []float32, off, ld, kc, panels, w int) bool {
	if !packAsm || (w != 6 && w != 12 && w != 16 && w != 32) {
		return false
	}
	_ = src[off+(kc-1)*ld+panels*w-1]
	_ = dst[panels*w*kc-1]
	copyPanels(unsafe.SliceData(dst), &src[off], ld, kc, panels, w)
	return true
}

// packGatherFast packs one full w-wide panel gathered from w source rows,
// 8 k-steps at a time by register transposes of 6 or 8 rows; it returns how many k-steps it packed (a multiple of 8), leaving the
// rest to the caller.
func packGatherFast(dst, src []float32, off, ld, kc, w int) int {
	blocks := kc / 8
	if !packAsm || (w != 6 && w != 12 && w != 16 && w != 32) || blocks == 0 {
		return 0
	}
	_ = src[off+(w-1)*ld+kc-1]
	_ = dst[w*kc-1]
	if w == 6 {
		gather6x8(&dst[0], &src[off], ld, blocks)
		return blocks * 8
	}
	for r := 0; r < w; r += 8 {
		// A 12-wide panel is rows 0-7, then rows 4-11: the overlap rewrites
		// columns 4-7 with the same values.
		r0 := min(r, w-8)
		gather8x8(&dst[r0], w, &src[off+r0*ld], ld, blocks)
	}
	return blocks * 8
}

//go:noescape
func gather6x8(dst, src *float32, ld, blocks int)

//go:noescape
func gather8x8(dst *float32, dstStride int, src *float32, ld, blocks int)

//go:noescape
func copyPanels(dst, src *float32, ld, kc, panels, w int)
