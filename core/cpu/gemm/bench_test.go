package gemm

import (
	"fmt"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	gonum "gonum.org/v1/gonum/blas/gonum"
)

type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
	serial         bool // attention-sized: callers run these per head, in parallel
}

// benchShapes are the square references and the transformer's shapes
// (M = 4096 rows = batch 64 × seq 64, d_model 128, MLP 384, vocab 32):
// forward Y = X·Wᵀ (W stored [out,in]), dX = dY·W, dW = dYᵀ·X, and the
// per-head attention products.
var benchShapes = []benchShape{
	{name: "sq512", m: 512, n: 512, k: 512},
	{name: "sq1024", m: 1024, n: 1024, k: 1024},
	{name: "fwd_d", transB: true, m: 4096, n: 128, k: 128},
	{name: "fwd_up", transB: true, m: 4096, n: 384, k: 128},
	{name: "fwd_down", transB: true, m: 4096, n: 128, k: 384},
	{name: "fwd_head", transB: true, m: 4096, n: 32, k: 128},
	{name: "dX_d", m: 4096, n: 128, k: 128},
	{name: "dX_up", m: 4096, n: 128, k: 384},
	{name: "dX_down", m: 4096, n: 384, k: 128},
	{name: "dX_head", m: 4096, n: 128, k: 32},
	{name: "dW_d", transA: true, m: 128, n: 128, k: 4096},
	{name: "dW_up", transA: true, m: 384, n: 128, k: 4096},
	{name: "dW_down", transA: true, m: 128, n: 384, k: 4096},
	{name: "dW_head", transA: true, m: 32, n: 128, k: 4096},
	{name: "attn_QKt", transB: true, m: 64, n: 64, k: 32, serial: true},
	{name: "attn_PV", m: 64, n: 32, k: 64, serial: true},
	{name: "attn_PtdO", transA: true, m: 64, n: 32, k: 64, serial: true},
}

func variant(tA, tB bool) string {
	s := []byte("NN")
	if tA {
		s[0] = 'T'
	}
	if tB {
		s[1] = 'T'
	}
	return string(s)
}

func blasT(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// BenchmarkSgemm runs each shape with this package and with gonum side by
// side: BenchmarkSgemm/<shape>_<MxNxK>_<op>/ours and .../gonum. Attention
// shapes use SgemmSerial (gonum is serial at that size too).
func BenchmarkSgemm(b *testing.B) {
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
		for i := range a {
			a[i] = float32(i%13) * 0.1
		}
		for i := range bm {
			bm[i] = float32(i%7) * 0.1
		}
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		name := fmt.Sprintf("%s_%dx%dx%d_%s", s.name, s.m, s.n, s.k, variant(s.transA, s.transB))
		ours := Sgemm
		if s.serial {
			ours = SgemmSerial
		}
		run := func(b *testing.B, f func()) {
			f()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(name+"/ours", func(b *testing.B) {
			run(b, func() { ours(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n) })
		})
		b.Run(name+"/gonum", func(b *testing.B) {
			impl := gonum.Implementation{}
			run(b, func() {
				impl.Sgemm(blasT(s.transA), blasT(s.transB), s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
			})
		})
	}
}

// BenchmarkThreshold compares Sgemm with SgemmSerial around the size where
// going parallel starts to pay (serialFlops is set from it; Sgemm itself
// stays serial below that, so this uses runParallel directly).
func BenchmarkThreshold(b *testing.B) {
	for _, d := range []int{48, 64, 80, 96, 128} {
		a, bm, c := make([]float32, d*d), make([]float32, d*d), make([]float32, d*d)
		flops := 2 * float64(d) * float64(d) * float64(d)
		for _, par := range []bool{false, true} {
			name := fmt.Sprintf("%d/serial", d)
			if par {
				name = fmt.Sprintf("%d/parallel", d)
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					p := params{m: d, n: d, k: d, alpha: 1, a: a, lda: d, b: bm, ldb: d, c: c, ldc: d}
					if par {
						runParallel(&p, 2, 1<<30)
					} else {
						runSerial(&p)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkPeakFMA measures the machine's FMA peak: the independent
// VFMADD231PS loop behind PeakGFLOPS, on GOMAXPROCS goroutines at once.
func BenchmarkPeakFMA(b *testing.B) {
	if peak.run == nil {
		b.Skip("no FMA peak loop on this build")
	}
	const iters = 1 << 12
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			peak.run(iters)
		}
	})
	b.ReportMetric(float64(b.N)*iters*peak.flopsPerIter/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func TestPeakGFLOPS(t *testing.T) {
	g := PeakGFLOPS(20 * time.Millisecond)
	if (peak.run != nil) != (g > 0) || (PeakISA() != "") != (g > 0) {
		t.Fatalf("PeakGFLOPS = %v with PeakISA %q", g, PeakISA())
	}
	t.Logf("FMA peak ≈ %.0f GFLOP/s (%s; GEMM kernel %s)", g, PeakISA(), Kernel())
}

// BenchmarkPack measures the packers alone (source in cache), in packed
// floats per second, for the assembly kernels' panel widths (6×16, 12×32).
func BenchmarkPack(b *testing.B) {
	const ld = 1024
	src := make([]float32, 1024*ld)
	dst := make([]float32, 256*1024)
	for _, tc := range []struct {
		name  string
		trans bool
		isA   bool
		w     int
	}{
		{"A_N_6", false, true, 6}, {"A_T_6", true, true, 6}, {"B_N_16", false, false, 16}, {"B_T_16", true, false, 16},
		{"A_N_12", false, true, 12}, {"A_T_12", true, true, 12}, {"B_N_32", false, false, 32}, {"B_T_32", true, false, 32},
	} {
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

// BenchmarkKernel measures each micro-kernel alone on cache-resident packed
// panels: the ceiling the blocked GEMM can approach on one core.
func BenchmarkKernel(b *testing.B) {
	for _, o := range kernels() {
		kern := o.kern
		for _, kc := range []int{64, 128, 256, 384} {
			b.Run(fmt.Sprintf("%s/kc=%d", kernelName(kern), kc), func(b *testing.B) {
				if o.lacks != "" {
					b.Skipf("this CPU lacks %s", o.lacks)
				}
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
