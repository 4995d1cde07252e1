package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// guarded returns n values from fill inside a buffer whose 8 elements on either side hold
// sentinel values, and a check that reports whether those sentinels are still intact (a kernel
// wrote outside its slice otherwise). The slice starts at a random offset, so it is unaligned.
func guarded(r *rand.Rand, n int, fill func() float32) ([]float32, func() bool) {
	const pad = 8
	off := pad + r.IntN(4)
	buf := make([]float32, n+off+pad)
	for i := range buf {
		buf[i] = fill()
	}
	before := append([]float32(nil), buf[:off]...)
	after := append([]float32(nil), buf[off+n:]...)
	intact := func() bool {
		for i, v := range before {
			if math.Float32bits(buf[i]) != math.Float32bits(v) {
				return false
			}
		}
		for i, v := range after {
			if math.Float32bits(buf[off+n+i]) != math.Float32bits(v) {
				return false
			}
		}
		return true
	}
	return buf[off : off+n : off+n], intact
}

func TestSumSquares(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range lengths() {
			for rep := 0; rep < 4; rep++ {
				// Values past the end (the buffer's guard) are large, so reading them shows.
				x, _ := guarded(r, n, func() float32 { return 1e6 })
				for i := range x {
					x[i] = float32(r.Float64()*6 - 3)
				}
				var want float64
				for _, v := range x {
					want += float64(v) * float64(v)
				}
				// Any order of n float32 additions of non-negative terms is within n·2⁻²⁴ of the sum.
				got := float64(SumSquares(x))
				if tol := float64(n+2) * 0x1p-24 * want; math.Abs(got-want) > tol {
					t.Fatalf("n=%d: SumSquares = %g, want %g ± %g", n, got, want, tol)
				}
			}
		}
		if got := SumSquares([]float32{1, float32(math.NaN()), 2}); got == got {
			t.Errorf("SumSquares with a NaN = %g, want NaN", got)
		}
	})
}

func TestScaleMul(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range lengths() {
			x, xOK := guarded(r, n, func() float32 { return float32(r.NormFloat64()) })
			w, _ := guarded(r, n, func() float32 { return float32(r.NormFloat64()) })
			out, outOK := guarded(r, n, func() float32 { return 12345 })
			s := float32(r.Float64()*4 + 0.1)
			ScaleMul(out, x, w, s)
			for i := range out {
				// A product of two float32 is exact in float64, so rounding it is the float32 product.
				want := float32(float64(float32(float64(x[i])*float64(s))) * float64(w[i]))
				if math.Float32bits(out[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d i=%d: ScaleMul = %g, want %g", n, i, out[i], want)
				}
			}
			if !outOK() || !xOK() {
				t.Fatalf("n=%d: ScaleMul wrote outside its slices", n)
			}
			// In place, as RMSNorm may use it.
			y := append([]float32(nil), x...)
			ScaleMul(y, y, w, s)
			sameBits(t, n, y, out)
		}
	})
}

func TestMax(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		if got := Max(nil); !math.IsInf(float64(got), -1) {
			t.Errorf("Max(empty) = %g, want -Inf", got)
		}
		for _, n := range lengths() {
			if n == 0 {
				continue
			}
			// Values past the end are larger than any inside: reading them shows.
			x, _ := guarded(r, n, func() float32 { return 1e30 })
			for i := range x {
				x[i] = float32(r.NormFloat64()*10 - 20)
				if r.IntN(5) == 0 {
					x[i] = -inf
				}
			}
			want := math.Inf(-1)
			for _, v := range x {
				want = math.Max(want, float64(v))
			}
			if got := Max(x); float64(got) != want {
				t.Fatalf("n=%d: Max = %g, want %g", n, got, want)
			}
			for i := range x {
				saved := x[i]
				x[i] = nan
				if got := Max(x); got == got {
					t.Fatalf("n=%d: Max with NaN at %d = %g, want NaN", n, i, got)
				}
				x[i] = saved
			}
		}
		allNeg := []float32{-inf, -inf, -inf}
		if got := Max(allNeg); !math.IsInf(float64(got), -1) {
			t.Errorf("Max(all -Inf) = %g", got)
		}
	})
}

func TestRotate(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, n := range lengths() {
			for _, sign := range []float32{1, -1} {
				x, xOK := guarded(r, n, func() float32 { return float32(r.NormFloat64()) })
				y, yOK := guarded(r, n, func() float32 { return float32(r.NormFloat64()) })
				c, s := make([]float32, n), make([]float32, n)
				for i := range c {
					a := r.Float64() * 2 * math.Pi
					c[i], s[i] = float32(math.Cos(a)), float32(math.Sin(a))
				}
				x0, y0 := append([]float32(nil), x...), append([]float32(nil), y...)
				Rotate(x, y, c, s, sign)
				for i := range x {
					a, b, ci, si := float64(x0[i]), float64(y0[i]), float64(c[i]), float64(sign)*float64(s[i])
					wx, wy := a*ci-b*si, b*ci+a*si
					// Two rounded products and a rounded sum: within 2⁻²³ of the terms' magnitudes.
					tolX := 0x1p-23 * (math.Abs(a*ci) + math.Abs(b*si))
					tolY := 0x1p-23 * (math.Abs(b*ci) + math.Abs(a*si))
					if math.Abs(float64(x[i])-wx) > tolX || math.Abs(float64(y[i])-wy) > tolY {
						t.Fatalf("n=%d sign=%g i=%d: Rotate = (%g, %g), want (%g, %g)", n, sign, i, x[i], y[i], wx, wy)
					}
				}
				if !xOK() || !yOK() {
					t.Fatalf("n=%d: Rotate wrote outside its slices", n)
				}
				// The inverse rotation brings the pair back (to rounding).
				Rotate(x, y, c, s, -sign)
				for i := range x {
					if math.Abs(float64(x[i]-x0[i])) > 1e-5 || math.Abs(float64(y[i]-y0[i])) > 1e-5 {
						t.Fatalf("n=%d i=%d: rotating back gave (%g, %g), started at (%g, %g)", n, i, x[i], y[i], x0[i], y0[i])
					}
				}
			}
		}
	})
}

// sameBits fails the test unless an in-place (aliased) result equals the separate one bit for
// bit.
func sameBits(t *testing.T, n int, aliased, separate []float32) {
	t.Helper()
	for i := range aliased {
		if math.Float32bits(aliased[i]) != math.Float32bits(separate[i]) {
			t.Fatalf("n=%d i=%d: aliased %g, separate %g", n, i, aliased[i], separate[i])
		}
	}
}
