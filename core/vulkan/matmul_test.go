//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// TestMatMulTiledKernel runs the GPU kernel on whatever device this is (lavapipe in CI would
// otherwise only run its own kernel) against the CPU backend: every transpose pair, odd shapes,
// a batch, alpha and beta (beta = 0 over NaN), and long-K products that take split-K.
func TestMatMulTiledKernel(t *testing.T) {
	vb := newTest(t)
	matmulForceTiled = true
	defer func() { matmulForceTiled = false }()
	host := cpu.New()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ batch, m, n, k int }{
		{1, 5, 7, 3}, {2, 130, 129, 17}, {1, 128, 384, 1024}, {2, 70, 50, 1000}, {1, 3, 5, 4096},
	} {
		if s, _ := splitK(((c.m+127)/128)*((c.n+127)/128)*c.batch, c.k); c.k >= 1000 && s == 1 {
			t.Fatalf("%v: expected a split-K case", c)
		}
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0.75}} {
				name := fmt.Sprintf("%v trans %v alpha,beta %v", c, tr, ab)
				aShape, bShape := []int{c.batch, c.m, c.k}, []int{c.batch, c.k, c.n}
				if tr[0] {
					aShape = []int{c.batch, c.k, c.m}
				}
				if tr[1] {
					bShape = []int{c.batch, c.n, c.k}
				}
				av, bv, cv := randSlice(rng, c.batch*c.m*c.k), randSlice(rng, c.batch*c.k*c.n), randSlice(rng, c.batch*c.m*c.n)
				if ab[1] == 0 {
					for i := range cv {
						cv[i] = float32(math.NaN())
					}
				}
				var got, want []float32
				for _, be := range []core.Backend{vb, host} {
					a, b, cc := be.Alloc(core.F32, aShape...), be.Alloc(core.F32, bShape...), be.Alloc(core.F32, c.batch, c.m, c.n)
					be.Upload(a, av)
					be.Upload(b, bv)
					be.Upload(cc, cv)
					be.MatMul(cc, a, b, tr[0], tr[1], ab[0], ab[1])
					out := make([]float32, cc.Len())
					be.Download(cc, out)
					if be == core.Backend(vb) {
						got = out
					} else {
						want = out
					}
				}
				var num, den float64
				for i := range got {
					d := float64(got[i] - want[i])
					num += d * d
					den += float64(want[i]) * float64(want[i])
				}
				if rel := math.Sqrt(num / den); !(rel < 1e-5) {
					t.Errorf("%s: relative error %.3g", name, rel)
				}
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}
