package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// packedShapes are the engine's x·Wᵀ and dY·W products (at a reduced row count) and odd sizes
// across the panel widths, the k blocking (kc 256: k = 384 is two blocks, 513 three) and the
// serial/parallel threshold.
var packedShapes = [][3]int{
	{1031, 128, 128}, {1031, 384, 128}, {1031, 128, 384}, {1031, 32, 128}, {800, 128, 384},
	{25, 128, 128}, {7, 33, 17}, {130, 65, 513}, {64, 40, 300}, {390, 250, 129}, {1, 1, 1},
}

// TestSgemmPackedB checks SgemmPackedB on every kernel against the float64 reference, with B
// packed in the call (valid = false) and reused from an earlier pack (valid = true).
func TestSgemmPackedB(t *testing.T) {
	forKernels(t, func(t *testing.T, _ *microKernel) {
		for _, tB := range []bool{false, true} {
			for _, tA := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(3, 5))
				for i, s := range packedShapes {
					sc := scalars[i%len(scalars)]
					var pb PackedB
					fresh := func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						SgemmPackedB(tA, tB, m, n, k, alpha, a, lda, b, ldb, &pb, false, beta, c, ldc)
					}
					checkGemm(t, fresh, rng, tA, tB, s[0], s[1], s[2], sc.alpha, sc.beta)
				}
			}
		}
	})
}

// TestSgemmPackedBSameAsSgemm checks that a packed B changes nothing in the result, bit for
// bit, on every kernel: one pack reused over products with different A and C (as a weight is
// over the forwards of a rollout) gives exactly Sgemm's C each time. A resumed run starts with
// no packs, so anything else would break bit-exact resume.
func TestSgemmPackedBSameAsSgemm(t *testing.T) {
	forKernels(t, func(t *testing.T, _ *microKernel) {
		rng := rand.New(rand.NewPCG(8, 9))
		uni := func() float32 { return rng.Float32()*2 - 1 }
		for _, tB := range []bool{false, true} {
			for _, s := range packedShapes {
				m, n, k := s[0], s[1], s[2]
				br, bc := k, n
				if tB {
					br, bc = n, k
				}
				b := newMat(rng, br, bc, 1, uni)
				var pb PackedB
				for rep := 0; rep < 3; rep++ {
					a := newMat(rng, m, k, 2, uni)
					c0 := newMat(rng, m, n, 0, uni)
					want := append([]float32(nil), c0.data...)
					got := append([]float32(nil), c0.data...)
					Sgemm(false, tB, m, n, k, 0.5, a.data, a.ld, b.data, b.ld, 0.25, want, n)
					held := SgemmPackedB(false, tB, m, n, k, 0.5, a.data, a.ld, b.data, b.ld, &pb, rep > 0, 0.25, got, n)
					if !held {
						t.Fatalf("tB=%v %v: a weight-sized B was not kept packed", tB, s)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("tB=%v %v rep %d: C[%d] = %v with B packed ahead, %v by Sgemm", tB, s, rep, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestSgemmPackedBRepacks checks that a pack is not used for what it does not hold: valid =
// true with another shape, the other transpose or another kernel than it was packed for packs
// again, so the result is still the product of the B passed.
func TestSgemmPackedBRepacks(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	uni := func() float32 { return rng.Float32()*2 - 1 }
	check := func(t *testing.T, pb *PackedB, tB bool, m, n, k int) {
		t.Helper()
		br, bc := k, n
		if tB {
			br, bc = n, k
		}
		a, b := newMat(rng, m, k, 0, uni), newMat(rng, br, bc, 0, uni)
		want, got := make([]float32, m*n), make([]float32, m*n)
		Sgemm(false, tB, m, n, k, 1, a.data, a.ld, b.data, b.ld, 0, want, n)
		SgemmPackedB(false, tB, m, n, k, 1, a.data, a.ld, b.data, b.ld, pb, true, 0, got, n)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("tB=%v %d×%d×%d: C[%d] = %v, want %v (a stale pack was used)", tB, m, n, k, i, got[i], want[i])
			}
		}
	}
	var pb PackedB
	check(t, &pb, true, 200, 128, 128)
	check(t, &pb, true, 200, 96, 128)  // another n
	check(t, &pb, true, 200, 96, 384)  // another k
	check(t, &pb, false, 200, 96, 384) // not transposed
	for _, o := range kernels() {
		if o.lacks != "" {
			continue
		}
		t.Run(kernelName(o.kern), func(t *testing.T) {
			useKernel(t, o.kern)
			check(t, &pb, false, 200, 96, 384) // packed for the previous kernel
		})
	}
}

// TestSgemmPackedBKSplit checks that a product Sgemm would split along k (a weight gradient:
// small C, long k) is computed as Sgemm computes it, not kept packed.
func TestSgemmPackedBKSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	var pb PackedB
	held := false
	f := func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		held = SgemmPackedB(tA, tB, m, n, k, alpha, a, lda, b, ldb, &pb, false, beta, c, ldc)
	}
	checkGemm(t, f, rng, true, false, 40, 72, 2100, 1, 0)
	if want := packsB(40, 72, 2100); held != want {
		t.Errorf("k-split shape: kept packed %v, want %v", held, want)
	}
}

// TestSgemmPackedBAllocs checks that reusing a pack, and repacking into it at the same shape,
// allocate nothing.
func TestSgemmPackedBAllocs(t *testing.T) {
	for _, s := range [][3]int{{64, 128, 128}, {25, 384, 128}} {
		m, n, k := s[0], s[1], s[2]
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		var pb PackedB
		for _, valid := range []bool{false, true} {
			SgemmPackedB(false, true, m, n, k, 1, a, k, b, k, &pb, false, 0, c, n)
			got := testing.AllocsPerRun(10, func() {
				SgemmPackedB(false, true, m, n, k, 1, a, k, b, k, &pb, valid, 0, c, n)
			})
			if got != 0 {
				t.Errorf("%v valid=%v: %v allocs/op", s, valid, got)
			}
		}
	}
}
