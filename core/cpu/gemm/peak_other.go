//go:build !amd64 || purego

package gemm

const flopsPerPeakIter = 0

func havePeakLoop() bool { return false }

func fmaPeakLoop(n int) {}
