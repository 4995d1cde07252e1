package gemm

import (
	"fmt"
	"os"
	"strings"
)

// microKernel computes one mr×nr tile C = alpha·Ap·Bp + beta·C from kc steps
// of packed panels (Ap: kc×mr, Bp: kc×nr, see pack.go). With beta == 0 it
// must not read C. The tile's row stride is ldc.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
	// fnInPlace, where non-nil, is fn reading A in place, A(i,k) at
	// a[i·rsA + k·csA], instead of from a packed panel; see inPlaceA.
	fnInPlace func(kc int, a []float32, rsA, csA int, b, c []float32, ldc int, alpha, beta float32)
}

// The portable micro-kernels. 4×4 (16 accumulators) suits targets with 32
// FP registers (arm64 and the like); where there are only 16 (amd64 with
// the purego tag or AGRPO_PUREGO=1, and wasm engines on x86 hosts) the Go
// compiler spills most of those accumulators every k-step, and the 2×4
// tile, which fits, measured ~1.6× faster on the dev machine.
var (
	goKernel4x4 = &microKernel{name: "go", mr: 4, nr: 4, fn: kernelGo4x4}
	goKernel2x4 = &microKernel{name: "go", mr: 2, nr: 4, fn: kernelGo2x4}
)

// goKernel is the portable kernel for this architecture (goKernelWide is
// set per architecture in kernel_wide.go / kernel_narrow.go).
var goKernel = pickGoKernel()

func pickGoKernel() *microKernel {
	if goKernelWide {
		return goKernel4x4
	}
	return goKernel2x4
}

// kernelOption is one of this build's assembly micro-kernels and what the
// CPU lacks to run it ("" when it can).
type kernelOption struct {
	kern  *microKernel
	lacks string
}

// active is the kernel Sgemm uses, chosen once at init: the first of
// asmKernels (fastest first, from the per-architecture file) that the CPU
// can run, else the portable one. AGRPO_GEMM_KERNEL=avx512|avx2|go forces
// one, to compare kernels or rule one out when debugging; AGRPO_PUREGO=1
// forces the portable kernel, as it does for core/cpu/vecmath.
var active = mustChooseKernel(os.Getenv("AGRPO_GEMM_KERNEL"), os.Getenv("AGRPO_PUREGO") == "1")

func mustChooseKernel(name string, pureGo bool) *microKernel {
	k, err := chooseKernel(name, pureGo)
	if err != nil {
		// A forced kernel that cannot run must not be replaced silently:
		// the numbers measured would be another kernel's.
		panic(err)
	}
	return k
}

func chooseKernel(name string, pureGo bool) (*microKernel, error) {
	if pureGo || name == goKernel.name {
		return goKernel, nil
	}
	names := []string{goKernel.name}
	for _, o := range asmKernels {
		if name == "" && o.lacks == "" {
			return o.kern, nil
		}
		if name == o.kern.name {
			if o.lacks != "" {
				return nil, fmt.Errorf("gemm: AGRPO_GEMM_KERNEL=%s, but this CPU lacks %s", name, o.lacks)
			}
			return o.kern, nil
		}
		names = append(names, o.kern.name)
	}
	if name == "" {
		return goKernel, nil
	}
	return nil, fmt.Errorf("gemm: AGRPO_GEMM_KERNEL=%q is none of this build's kernels (%s)", name, strings.Join(names, ", "))
}

func activeKernel() *microKernel { return active }

// Kernel names the micro-kernel in use: "avx512" (AVX-512F assembly),
// "avx2" (AVX2+FMA assembly) or "go" (portable), so benchmarks and logs
// can say what they measured.
func Kernel() string { return active.name }

// Kernels names the micro-kernels this CPU can run, fastest first and "go"
// last: the values AGRPO_GEMM_KERNEL accepts here.
func Kernels() []string {
	var names []string
	for _, o := range asmKernels {
		if o.lacks == "" {
			names = append(names, o.kern.name)
		}
	}
	return append(names, goKernel.name)
}

// kernelGo4x4 is the portable micro-kernel over 4×4 packed panels.
func kernelGo4x4(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a, b = a[:kc*4], b[:kc*4]
	for len(a) >= 4 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		x := a[0]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = a[1]
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = a[2]
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = a[3]
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
		a, b = a[4:], b[4:]
	}
	storeRow4(c[0:4], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[ldc:ldc+4], c10, c11, c12, c13, alpha, beta)
	storeRow4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	storeRow4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

// kernelGo2x4 is the portable micro-kernel over 2×4 packed panels.
func kernelGo2x4(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	a, b = a[:kc*2], b[:kc*4]
	for len(a) >= 2 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		x, y := a[0], a[1]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
		a, b = a[2:], b[4:]
	}
	storeRow4(c[0:4], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[ldc:ldc+4], c10, c11, c12, c13, alpha, beta)
}

func storeRow4(r []float32, v0, v1, v2, v3, alpha, beta float32) {
	r = r[:4]
	if beta == 0 {
		r[0], r[1], r[2], r[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	r[0] = alpha*v0 + beta*r[0]
	r[1] = alpha*v1 + beta*r[1]
	r[2] = alpha*v2 + beta*r[2]
	r[3] = alpha*v3 + beta*r[3]
}
