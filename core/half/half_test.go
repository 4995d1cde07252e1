package half

import (
	"math"
	"testing"
)

// TestF16Exhaustive widens every one of the 65,536 half-precision bit patterns and compares it
// with the IEEE 754 definition evaluated in float64: (−1)^s·2^(e−15)·(1 + m/1024) for normal
// numbers, (−1)^s·2^−14·m/1024 for subnormals, ±Inf and NaN at e = 31.
func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&31, h&1023
		sign := 1.0
		if s == 1 {
			sign = -1
		}
		var want float64
		switch {
		case e == 31 && m == 0:
			want = math.Inf(int(sign))
		case e == 31:
			want = math.NaN()
		case e == 0:
			want = sign * math.Ldexp(float64(m)/1024, -14)
		default:
			want = sign * math.Ldexp(1+float64(m)/1024, e-15)
		}
		got := float64(F16ToFloat32(uint16(h)))
		if math.IsNaN(want) != math.IsNaN(got) || (!math.IsNaN(want) && (got != want || math.Signbit(got) != math.Signbit(want))) {
			t.Fatalf("F16 %#04x: got %g, want %g", h, got, want)
		}
	}
}

// TestBF16 checks the exact widening on every pattern and the rounding of float32 values to the
// nearest bfloat16 against a search over the two neighbouring bfloat16 values in float64 (ties
// to the even one), on random and hand-picked values.
func TestBF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := BF16ToFloat32(uint16(h))
		if want := math.Float32frombits(uint32(h) << 16); math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("BF16 %#04x: got %g, want %g", h, got, want)
		}
	}
	check := func(x float32) {
		t.Helper()
		got := Float32ToBF16(x)
		if x != x {
			if y := BF16ToFloat32(got); y == y {
				t.Fatalf("NaN rounded to %g", y)
			}
			return
		}
		lo := uint16(math.Float32bits(x) >> 16) // truncation: the neighbour towards zero
		hi := lo + 1
		dl := math.Abs(float64(x) - float64(BF16ToFloat32(lo)))
		vh := float64(BF16ToFloat32(hi))
		if math.IsInf(vh, 0) { // IEEE rounding measures overflow against 2^128
			vh = math.Copysign(math.Ldexp(1, 128), vh)
		}
		dh := math.Abs(float64(x) - vh)
		want := lo
		if dh < dl || (dh == dl && lo&1 == 1) {
			want = hi
		}
		if got != want {
			t.Fatalf("Float32ToBF16(%g = %#08x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
	for _, x := range []float32{0, 1, -1, 1.00390625, 1.005859375, 1.0078125, 3.14159265, -65504, 1e-40, math.MaxFloat32, float32(math.NaN())} {
		check(x)
	}
	seed := uint32(1)
	for range 200000 {
		seed = seed*1664525 + 1013904223
		if x := math.Float32frombits(seed); !math.IsInf(float64(x), 0) && math.Abs(float64(x)) < 3.38e38 {
			check(x)
		}
	}
}
