//go:build !amd64 || purego

package gemm

// asmKernels is empty here: no assembly kernel exists for this
// architecture or the purego build tag excluded them, so the portable Go
// kernel is used.
var asmKernels []kernelOption
