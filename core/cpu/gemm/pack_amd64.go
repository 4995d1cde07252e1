//go:build amd64 && !purego

package gemm

import "unsafe"

// The AVX2 packers below serve the 6×16 kernel's panel widths; they are
// only reached when that kernel is active (so the CPU has AVX2). Each
// returns false for a case it does not cover, and the Go packer runs.

// packContigFast packs `panels` full w-wide panels whose k-steps are
// contiguous runs in src (see packContig).
func packContigFast(dst, src []float32, off, ld, kc, panels, w int) bool {
	if (w != 16 && w != 6) || active != asmKernel {
		return false
	}
	_ = src[off+(kc-1)*ld+panels*w-1]
	_ = dst[panels*w*kc-1]
	d, s := unsafe.SliceData(dst), &src[off]
	if w == 16 {
		copyPanels16(d, s, ld, kc, panels, w*kc)
	} else {
		copyPanels6(d, s, ld, kc, panels, w*kc)
	}
	return true
}

// packGatherFast packs one full w-wide panel gathered from w source rows,
// 8 k-steps at a time by register transposes; it returns how many k-steps
// it packed (a multiple of 8), leaving the rest to the caller.
func packGatherFast(dst, src []float32, off, ld, kc, w int) int {
	blocks := kc / 8
	if (w != 16 && w != 6) || blocks == 0 || active != asmKernel {
		return 0
	}
	_ = src[off+(w-1)*ld+kc-1]
	_ = dst[w*kc-1]
	if w == 6 {
		gather6x8(&dst[0], &src[off], ld, blocks)
	} else {
		gather8x8(&dst[0], 16, &src[off], ld, blocks)
		gather8x8(&dst[8], 16, &src[off+8*ld], ld, blocks)
	}
	return blocks * 8
}

//go:noescape
func gather6x8(dst, src *float32, ld, blocks int)

//go:noescape
func gather8x8(dst *float32, dstStride int, src *float32, ld, blocks int)

//go:noescape
func copyPanels16(dst, src *float32, ld, kc, panels, panelStride int)

//go:noescape
func copyPanels6(dst, src *float32, ld, kc, panels, panelStride int)
