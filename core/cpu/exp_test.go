package cpu

import (
	"math"
	"testing"
)

// TestExp32 compares exp32 with float64 math.Exp over the whole float32 range of interest.
func TestExp32(t *testing.T) {
	worst := 0.0
	for x := float32(-104); x < 89; x += 0.0037 {
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if want < 1e-37 { // below float32's normal range: only require a tiny result
			if got > 1e-36 {
				t.Fatalf("exp32(%g) = %g, want ~%g", x, got, want)
			}
			continue
		}
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("exp32(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		rel := math.Abs(got-want) / want
		worst = math.Max(worst, rel)
		if rel > 3e-7 {
			t.Fatalf("exp32(%g) = %g, want %g (rel %.2g)", x, got, want, rel)
		}
	}
	for _, c := range []struct{ x, want float32 }{{0, 1}, {float32(math.Inf(-1)), 0}, {float32(math.Inf(1)), float32(math.Inf(1))}, {100, float32(math.Inf(1))}} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if !math.IsNaN(float64(exp32(float32(math.NaN())))) {
		t.Error("exp32(NaN) is not NaN")
	}
	t.Logf("worst relative error %.3g", worst)
}

func expInputs() []float32 {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200) * -0.05
	}
	return x
}

// BenchmarkExp32 measures throughput over a slice, as softmax uses it.
func BenchmarkExp32(b *testing.B) {
	x := expInputs()
	out := make([]float32, len(x))
	for b.Loop() {
		for i, v := range x {
			out[i] = exp32(v)
		}
	}
}

func BenchmarkMathExp(b *testing.B) {
	x := expInputs()
	out := make([]float32, len(x))
	for b.Loop() {
		for i, v := range x {
			out[i] = float32(math.Exp(float64(v)))
		}
	}
}
