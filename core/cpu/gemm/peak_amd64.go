//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// peak is the widest FMA loop this CPU runs: 512-bit where it has
// AVX-512F (on a Zen 5 or a server Intel core that doubles the rate of
// the 256-bit loop), else 256-bit with AVX2+FMA.
var peak = pickPeakLoop()

func pickPeakLoop() peakLoop {
	switch {
	case cpu.X86.HasAVX512F:
		return peakLoop{isa: "avx512", flopsPerIter: 12 * 16 * 2, run: fmaPeakLoop512}
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return peakLoop{isa: "avx2", flopsPerIter: 12 * 8 * 2, run: fmaPeakLoop256}
	}
	return peakLoop{}
}

// fmaPeakLoop256 and fmaPeakLoop512 are implemented in peak_amd64.s.

//go:noescape
func fmaPeakLoop256(n int)

//go:noescape
func fmaPeakLoop512(n int)
