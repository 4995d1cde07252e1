//go:build !(arm64 || ppc64 || ppc64le || riscv64 || loong64 || s390x || mips64 || mips64le)

package gemm

// goKernelWide: 16 or fewer FP registers (amd64, 386, wasm engines on x86
// hosts), so the 2×4 Go kernel is used.
const goKernelWide = false
