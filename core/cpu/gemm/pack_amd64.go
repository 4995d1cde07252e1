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

// packGatherFast packs the first rows of a w-wide panel gathered from
// valid ≤ w source rows, 8 k-steps at a time by register transposes of 6
// or 8 rows; it returns how many rows and k-steps (a multiple of 8) it
// packed, leaving the rest to the caller. With 8 or more rows it covers
// them all: the last group of 8 starts at valid-8 and rewrites the rows
// it shares with the one before with the same values (a 12-wide panel is
// rows 0-7, then 4-11; attention's 25 keys are 0-7, 8-15, 16-23, 17-24).
func packGatherFast(dst, src []float32, off, ld, kc, w, valid int) (rows, steps int) {
	blocks := kc / 8
	if !packAsm || (w != 6 && w != 12 && w != 16 && w != 32) || blocks == 0 || valid < min(w, 8) {
		return 0, 0
	}
	_ = src[off+(valid-1)*ld+kc-1]
	_ = dst[w*kc-1]
	if w == 6 {
		gather6x8(&dst[0], &src[off], ld, blocks)
		return 6, blocks * 8
	}
	for r := 0; r < valid; r += 8 {
		r0 := min(r, valid-8)
		gather8x8(&dst[r0], w, &src[off+r0*ld], ld, blocks)
	}
	return valid, blocks * 8
}

//go:noescape
func gather6x8(dst, src *float32, ld, blocks int)

//go:noescape
func gather8x8(dst *float32, dstStride int, src *float32, ld, blocks int)

//go:noescape
func copyPanels(dst, src *float32, ld, kc, panels, w int)
