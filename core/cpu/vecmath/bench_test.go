package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Benchmarks report ns/elem for the assembly ("avx2", when available), the
// portable Go ("go") and a scalar loop over float32(math.Exp(float64(x)))
// ("math") computing the same thing, on an L1/L2-resident row (4096) and a
// memory-bound 1.2M-element slice.

var benchSizes = []int{4096, 1_200_000}

type benchData struct{ x, g, u, d, o1, o2 []float32 }

func newBenchData(n int) *benchData {
	r := rand.New(rand.NewPCG(11, 12))
	b := &benchData{}
	for _, p := range []*[]float32{&b.x, &b.g, &b.u, &b.d, &b.o1, &b.o2} {
		*p = make([]float32, n)
	}
	for i := range n {
		b.x[i] = float32(r.Float64()*-20) + 1 // softmax-like logits after the shift
		b.g[i] = float32(r.NormFloat64() * 2)
		b.u[i] = float32(r.NormFloat64())
		b.d[i] = float32(r.NormFloat64())
	}
	return b
}

func mathExp(x float32) float32 { return float32(math.Exp(float64(x))) }

// runPaths runs one sub-benchmark per implementation and size; scalar is
// the math.Exp baseline.
func runPaths(b *testing.B, fn func(d *benchData), scalar func(d *benchData)) {
	for _, n := range benchSizes {
		d := newBenchData(n)
		saved := useAsm
		paths := []struct {
			name string
			asm  bool
		}{{"go", false}}
		if hasAsm {
			paths = append(paths, struct {
				name string
				asm  bool
			}{"avx2", true})
		}
		for _, p := range paths {
			b.Run(fmt.Sprintf("n=%d/%s", n, p.name), func(b *testing.B) {
				useAsm = p.asm
				defer func() { useAsm = saved }()
				for b.Loop() {
					fn(d)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
			})
		}
		b.Run(fmt.Sprintf("n=%d/math", n), func(b *testing.B) {
			for b.Loop() {
				scalar(d)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
		})
	}
}

var sink float32

func BenchmarkExp(b *testing.B) {
	runPaths(b, func(d *benchData) { Exp(d.o1, d.x) }, func(d *benchData) {
		for i, v := range d.x {
			d.o1[i] = mathExp(v)
		}
	})
}

func BenchmarkExpSubSum(b *testing.B) {
	runPaths(b, func(d *benchData) { sink = ExpSubSum(d.o1, d.x, 1) }, func(d *benchData) {
		var s float32
		for i, v := range d.x {
			e := mathExp(v - 1)
			d.o1[i] = e
			s += e
		}
		sink = s
	})
}

func BenchmarkSiLUMul(b *testing.B) {
	runPaths(b, func(d *benchData) { SiLUMul(d.o1, d.g, d.u) }, func(d *benchData) {
		for i, g := range d.g {
			d.o1[i] = g / (1 + mathExp(-g)) * d.u[i]
		}
	})
}

func BenchmarkSiLUMulBackward(b *testing.B) {
	runPaths(b, func(d *benchData) { SiLUMulBackward(d.o1, d.o2, d.d, d.g, d.u) }, func(d *benchData) {
		for i, g := range d.g {
			s := 1 / (1 + mathExp(-g))
			d.o2[i] = d.d[i] * g * s
			d.o1[i] = d.d[i] * d.u[i] * s * (1 + g*(1-s))
		}
	})
}
