//go:build amd64 && !purego

package gemm

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// asmKernels, fastest first:
//
//   - avx512, 12×32: 24 zmm accumulators, two zmm loads of packed B and one
//     broadcast of packed A per row and k-step (kernel_avx512_amd64.s).
//     golang.org/x/sys/cpu reports AVX-512F only where the OS saves the
//     zmm and mask state.
//   - avx2, 6×16: 12 ymm accumulators (enough independent chains to hide
//     the 4-cycle FMA latency on two FMA pipes), two ymm loads of packed B
//     and one broadcast of packed A per row and k-step (kernel_amd64.s).
var asmKernels = []kernelOption{
	{
		asmTile("avx512", 12, 32, sgemmKernel12x32),
		lacking(feature{"avx512f", cpu.X86.HasAVX512F}),
	},
	{
		asmTile("avx2", 6, 16, sgemmKernel6x16),
		lacking(feature{"avx2", cpu.X86.HasAVX2}, feature{"fma", cpu.X86.HasFMA}),
	},
}

// feature is a CPU feature by its /proc/cpuinfo name, and whether this CPU
// has it.
type feature struct {
	name string
	has  bool
}

// lacking lists the features the CPU does not have, "" if none.
func lacking(fs ...feature) string {
	var miss []string
	for _, f := range fs {
		if !f.has {
			miss = append(miss, f.name)
		}
	}
	return strings.Join(miss, ", ")
}

// asmTile wraps an mr×nr assembly kernel, whose A(i,p) is at
// a[i·rsA + p·csA] and B's row p at b[p·csB], as a microKernel reading
// packed panels (fn) or A in place (fnInPlace). The callers guarantee an
// mr×nr tile of C and kc full panel steps; the index expressions only
// assert that cheaply.
func asmTile(name string, mr, nr int, f func(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32)) *microKernel {
	return &microKernel{name: name, mr: mr, nr: nr,
		fn: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
			_ = a[mr*kc-1]
			_ = b[nr*kc-1]
			_ = c[(mr-1)*ldc+nr-1]
			f(kc, unsafe.SliceData(a), 1, mr, unsafe.SliceData(b), nr, unsafe.SliceData(c), ldc, alpha, beta)
		},
		fnInPlace: func(kc int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32) {
			_ = a[(mr-1)*rsA+(kc-1)*csA]
			_ = b[nr*kc-1]
			_ = c[(mr-1)*ldc+nr-1]
			f(kc, unsafe.SliceData(a), rsA, csA, unsafe.SliceData(b), nr, unsafe.SliceData(c), ldc, alpha, beta)
		},
	}
}

// sgemmKernel12x32 is implemented in kernel_avx512_amd64.s.
//
//go:noescape
func sgemmKernel12x32(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x16 is implemented in kernel_amd64.s.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32)
