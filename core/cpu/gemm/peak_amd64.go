//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// flopsPerPeakIter is the work of one fmaPeakLoop iteration: 12 FMAs of
// 8 lanes, 2 flops each.
const flopsPerPeakIter = 12 * 8 * 2

func havePeakLoop() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// fmaPeakLoop is implemented in peak_amd64.s.
//
//go:noescape
func fmaPeakLoop(n int)
