package gemm

import (
	"fmt"
	"testing"
)

func BenchmarkPack(b *testing.B) {
	const ld = 1024
	src := make([]float32, 1024*ld)
	dst := make([]float32, 256*1024)
	for _, tc := range []struct {
		name  string
		trans bool
		isA   bool
		w     int
	}{{"A_N_6", false, true, 6}, {"A_T_6", true, true, 6}, {"B_N_16", false, false, 16}, {"B_T_16", true, false, 16}} {
		b.Run(tc.name, func(b *testing.B) {
			p := params{transA: tc.trans, transB: tc.trans, m: 1024, n: 1024, k: 1024, a: src, lda: ld, b: src, ldb: ld}
			for i := 0; i < b.N; i++ {
				if tc.isA {
					packA(dst, &p, 0, 168, 0, 256, tc.w)
				} else {
					packB(dst, &p, 0, 256, 0, 512, tc.w)
				}
			}
			n := 168 * 256
			if !tc.isA {
				n = 512 * 256
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloat/s")
		})
	}
}

func BenchmarkKernel(b *testing.B) {
	for _, kern := range kernels() {
		for _, kc := range []int{64, 128, 256, 384} {
			b.Run(kern.name+"/kc="+itoa(kc), func(b *testing.B) {
				mr, nr := kern.mr, kern.nr
				const panels = 24
				a := make([]float32, panels*mr*kc)
				bp := make([]float32, nr*kc)
				c := make([]float32, panels*mr*nr)
				for i := 0; i < b.N; i++ {
					for q := 0; q < panels; q++ {
						kern.fn(kc, a[q*mr*kc:], bp, c[q*mr*nr:], nr, 1, 1)
					}
				}
				b.ReportMetric(float64(2*mr*nr*kc*panels)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func itoa(i int) string { return fmt.Sprint(i) }
