//go:build !amd64 || purego

package gemm

// peak is empty here: no FMA loop for this architecture or build.
var peak peakLoop
