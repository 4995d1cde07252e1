//go:build !amd64 || purego

package gemm

// No assembly packers here: the Go loops in pack.go do all packing.

func packContigFast(dst, src []float32, off, ld, kc, panels, w int) bool { return false }

func packGatherFast(dst, src []float32, off, ld, kc, w, valid int) (rows, steps int) { return 0, 0 }
