package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// peakLoop is an assembly loop of independent VFMADD231PS chains on the
// widest vector registers an instruction set has.
type peakLoop struct {
	isa          string // "avx512", "avx2"; "" where there is no loop
	flopsPerIter float64
	run          func(n int) // n iterations
}

// PeakISA names the instruction set PeakGFLOPS measures with: the widest
// FMA the CPU has ("avx512": 16 lanes, "avx2": 8), whatever GEMM kernel is
// in use; "" where PeakGFLOPS has no loop.
func PeakISA() string { return peak.isa }

// PeakGFLOPS measures the machine's single-precision FMA peak for about d:
// an assembly loop of independent VFMADD231PS chains on the widest vectors
// the CPU has (PeakISA) runs on GOMAXPROCS goroutines at once and the
// total rate is returned in GFLOP/s. It is the yardstick GEMM throughput is
// judged against. It returns 0 where that loop does not exist (non-amd64,
// the purego build tag, or a CPU without AVX2+FMA).
func PeakGFLOPS(d time.Duration) float64 {
	if peak.run == nil {
		return 0
	}
	const chunk = 1 << 15 // iterations between clock checks (~0.1 ms)
	procs := runtime.GOMAXPROCS(0)
	var iters atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := 0; g < procs; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				peak.run(chunk)
				n += chunk
			}
			iters.Add(n)
		}()
	}
	wg.Wait()
	sec := time.Since(start).Seconds()
	return float64(iters.Load()) * peak.flopsPerIter / sec / 1e9
}
