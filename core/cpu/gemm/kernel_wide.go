//go:build arm64 || ppc64 || ppc64le || riscv64 || loong64 || s390x || mips64 || mips64le

package gemm

// goKernelWide: these architectures have 32 FP registers, enough for the
// 4×4 Go kernel's accumulators.
const goKernelWide = true
