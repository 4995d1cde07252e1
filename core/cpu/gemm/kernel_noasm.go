//go:build !amd64 || purego

package gemm

// asmKernel is nil here: no assembly kernel exists for this architecture or
// the purego build tag excluded it, so the portable Go kernel is used.
var asmKernel *microKernel
