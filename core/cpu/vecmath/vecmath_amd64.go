//go:build amd64 && !purego

package vecmath

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAsm: the kernels in vecmath_amd64.s need AVX2 (integer ymm ops for
// the 2^n scaling) and FMA (range reduction and Horner steps).
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The wrappers pass raw pointers: the exported functions have already
// checked that all slices have the same length.

func expAsm(dst, src []float32) {
	expAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), len(src))
}

func expSubSumAsm(dst, src []float32, shift float32) float32 {
	return expSubSumAVX2(unsafe.SliceData(dst), unsafe.SliceData(src), len(src), shift)
}

func siluMulAsm(out, gate, up []float32) {
	siluMulAVX2(unsafe.SliceData(out), unsafe.SliceData(gate), unsafe.SliceData(up), len(out))
}

func siluMulBackwardAsm(dGate, dUp, dOut, gate, up []float32) {
	siluMulBackwardAVX2(unsafe.SliceData(dGate), unsafe.SliceData(dUp), unsafe.SliceData(dOut),
		unsafe.SliceData(gate), unsafe.SliceData(up), len(dOut))
}

func sumSquaresAsm(x []float32) float32 { return sumSquaresAVX2(unsafe.SliceData(x), len(x)) }

func scaleMulAsm(out, x, w []float32, s float32) {
	scaleMulAVX2(unsafe.SliceData(out), unsafe.SliceData(x), unsafe.SliceData(w), len(out), s)
}

func maxAsm(x []float32) float32 {
	return maxAVX2(unsafe.SliceData(x), len(x), float32(math.Inf(-1)))
}

func rotateAsm(x, y, c, s []float32, sign float32) {
	rotateAVX2(unsafe.SliceData(x), unsafe.SliceData(y), unsafe.SliceData(c), unsafe.SliceData(s), len(x), sign)
}

// Implemented in vecmath_amd64.s. Each handles any n ≥ 0: blocks of 16
// and 8 lanes, then one masked block (VMASKMOVPS) for the last n%8.

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func expSubSumAVX2(dst, src *float32, n int, shift float32) float32

//go:noescape
func siluMulAVX2(out, gate, up *float32, n int)

//go:noescape
func siluMulBackwardAVX2(dGate, dUp, dOut, gate, up *float32, n int)

//go:noescape
func sumSquaresAVX2(x *float32, n int) float32

//go:noescape
func scaleMulAVX2(out, x, w *float32, n int, s float32)

//go:noescape
func maxAVX2(x *float32, n int, neg float32) float32

//go:noescape
func rotateAVX2(x, y, c, s *float32, n int, sign float32)
