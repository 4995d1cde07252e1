//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// asmKernel is the AVX2+FMA 6×16 kernel: 12 ymm accumulators (enough
// independent chains to hide the 4-cycle FMA latency on two FMA pipes), two
// ymm loads of packed B and one broadcast of packed A per row and k-step.
var asmKernel = detectAVX2()

func detectAVX2() *microKernel {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	return &microKernel{name: "avx2", mr: 6, nr: 16, fn: kernelAVX2, fnInPlace: kernelAVX2InPlace}
}

func kernelAVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	// The callers guarantee a 6×16 tile of C and kc full panel steps; the
	// index expressions below only assert that cheaply.
	_ = a[6*kc-1]
	_ = b[16*kc-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(kc, unsafe.SliceData(a), 1, 6, unsafe.SliceData(b), 16, unsafe.SliceData(c), ldc, alpha, beta)
}

func kernelAVX2InPlace(kc int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[5*rsA+(kc-1)*csA]
	_ = b[16*kc-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(kc, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), 16, unsafe.SliceData(c), ldc, alpha, beta)
}

// sgemmKernel6x16 is implemented in kernel_amd64.s.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32)
