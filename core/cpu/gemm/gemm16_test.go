package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core/half"
)

// sgemmBF16 adapts Sgemm16 to checkGemm: it rounds B to bfloat16 in place (so the float64
// reference uses the values the product reads) and passes their bits.
func sgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	b16 := make([]uint16, len(b))
	for i, x := range b {
		b16[i] = half.Float32ToBF16(x)
		b[i] = half.BF16ToFloat32(b16[i])
	}
	Sgemm16(transA, transB, m, n, k, alpha, a, lda, b16, false, ldb, beta, c, ldc)
}

// TestSgemm16 checks the 16-bit B path against the float64 reference on every transpose and
// odd shapes (bfloat16), and, for both formats, that it equals Sgemm on the widened B bit for
// bit: packing widens exactly, so the float32 arithmetic is the same.
func TestSgemm16(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {3, 7, 17}, {17, 3, 7}, {33, 65, 130}, {200, 47, 300}, {64, 384, 128}, {390, 40, 129}}
	forKernels(t, func(t *testing.T, _ *microKernel) {
		for v := 0; v < 4; v++ {
			tA, tB := v&1 != 0, v&2 != 0
			t.Run(fmt.Sprintf("tA=%v/tB=%v", tA, tB), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(v), 16))
				for i, s := range shapes {
					sc := scalars[i%len(scalars)]
					checkGemm(t, sgemmBF16, rng, tA, tB, s[0], s[1], s[2], sc.alpha, sc.beta)
					for _, isHalf := range []bool{false, true} {
						checkSame16(t, rng, tA, tB, s[0], s[1], s[2], isHalf)
					}
				}
			})
		}
	})
}

// checkSame16 compares Sgemm16 with Sgemm on the same B widened, for random finite 16-bit B.
func checkSame16(t *testing.T, rng *rand.Rand, tA, tB bool, m, n, k int, isHalf bool) {
	t.Helper()
	widen := half.BF16ToFloat32
	if isHalf {
		widen = half.F16ToFloat32
	}
	a := make([]float32, m*k)
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	b16, b := make([]uint16, k*n), make([]float32, k*n)
	for i := range b16 {
		for {
			// Exponents near 1 so products neither overflow nor vanish: the sign, a random
			// mantissa, and an exponent within a few binades of 1.
			h := uint16(rng.UintN(1 << 16))
			if isHalf {
				h = h&0x83ff | uint16(13+rng.IntN(4))<<10
			} else {
				h = h&0x807f | uint16(125+rng.IntN(4))<<7
			}
			if x := widen(h); !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
				b16[i], b[i] = h, x
				break
			}
		}
	}
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	got, want := make([]float32, m*n), make([]float32, m*n)
	Sgemm16(tA, tB, m, n, k, 1.25, a, lda, b16, isHalf, ldb, 0, got, n)
	Sgemm(tA, tB, m, n, k, 1.25, a, lda, b, ldb, 0, want, n)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("half=%v tA=%v tB=%v %dx%dx%d: C[%d] = %g, Sgemm on the widened B gives %g", isHalf, tA, tB, m, n, k, i, got[i], want[i])
		}
	}
}
