package gemm

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestBestOf times single calls and keeps the fastest: on a shared machine
// that filters out time slices lost to other processes.
func TestBestOf(t *testing.T) {
	if os.Getenv("GEMM_BESTOF") == "" {
		t.Skip()
	}
	par := os.Getenv("GEMM_BESTOF") == "par"
	for _, s := range benchShapes {
		ar, ac := s.m, s.k
		if s.transA {
			ar, ac = s.k, s.m
		}
		br, bc := s.k, s.n
		if s.transB {
			br, bc = s.n, s.k
		}
		a, bm, c := make([]float32, ar*ac), make([]float32, br*bc), make([]float32, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		f := SgemmSerial
		if par && !s.serial {
			f = Sgemm
		}
		best := time.Hour
		deadline := time.Now().Add(400 * time.Millisecond)
		for n := 0; n < 3 || time.Now().Before(deadline); n++ {
			t0 := time.Now()
			f(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
			best = min(best, time.Since(t0))
		}
		fmt.Printf("BEST %-10s %6.1f\n", s.name, flops/best.Seconds()/1e9)
	}
}

func TestThresholdBestOf(t *testing.T) {
	if os.Getenv("GEMM_BESTOF") == "" {
		t.Skip()
	}
	for _, d := range []int{32, 48, 64, 80, 96, 112, 128, 160} {
		a, bm, c := make([]float32, d*d), make([]float32, d*d), make([]float32, d*d)
		flops := 2 * float64(d) * float64(d) * float64(d)
		var res [2]time.Duration
		for pi, par := range []bool{false, true} {
			best := time.Hour
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) {
				p := params{false, false, d, d, d, 1, a, d, bm, d, 0, c, d}
				t0 := time.Now()
				if par {
					runParallel(&p, 2, 1<<30)
				} else {
					runSerial(&p)
				}
				best = min(best, time.Since(t0))
			}
			res[pi] = best
		}
		fmt.Printf("THR %4d flops=%8.0f serial %6.1fus par %6.1fus\n", d, flops, res[0].Seconds()*1e6, res[1].Seconds()*1e6)
	}
}
