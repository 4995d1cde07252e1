package vecmath

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// forEachPath runs f on the portable path and, where this machine and build
// have it, on the assembly path, by flipping the unexported switch.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := useAsm
	defer func() { useAsm = saved }()
	useAsm = false
	t.Run("go", f)
	if hasAsm {
		useAsm = true
		t.Run("avx2", f)
	} else {
		t.Log("no assembly path on this build/CPU; tested the portable path only")
	}
}

// TestKernelSelection checks the init-time choice: AGRPO_PUREGO=1 (or no
// assembly for this build/CPU) means the portable path.
func TestKernelSelection(t *testing.T) {
	want := "avx2"
	if !hasAsm || os.Getenv("AGRPO_PUREGO") == "1" {
		want = "go"
	}
	if got := Kernel(); got != want {
		t.Errorf("Kernel() = %q, want %q", got, want)
	}
	t.Logf("kernel %s", Kernel())
}

var (
	inf  = float32(math.Inf(1))
	nan  = float32(math.NaN())
	nzer = float32(math.Copysign(0, -1))
)

// specials are the edge-case inputs every function is checked on.
var specials = []float32{inf, -inf, nan, 100, -100, -87.5, 88.8, 0, nzer, 88.72, -87.3, 1, -1}

const minNormal = 0x1p-126

// randX draws from a mix of wide, in-range, small and special values.
func randX(r *rand.Rand) float32 {
	switch r.IntN(8) {
	case 0, 1:
		return float32(r.Float64()*200 - 100)
	case 2, 3, 4:
		return float32(r.Float64()*(88.8+87.4) - 87.4)
	case 5, 6:
		return float32(r.Float64()*4 - 2)
	default:
		return specials[r.IntN(len(specials))]
	}
}

// lengths covers every tail length of the 16- and 8-lane blocks, plus a
// few long slices.
func lengths() []int {
	var ns []int
	for n := 0; n <= 40; n++ {
		ns = append(ns, n)
	}
	return append(ns, 127, 1000, 4099)
}

// slice returns n values from fill at a random offset into a larger buffer,
// so the kernels also see unaligned slices.
func slice(r *rand.Rand, n int, fill func() float32) []float32 {
	off := r.IntN(4)
	buf := make([]float32, n+off+3)
	for i := range buf {
		buf[i] = fill()
	}
	return buf[off : off+n : off+n]
}

// checkExp reports whether got is an acceptable e^x: relative error ≤ 3e−7
// where the float64 result is a normal float32, 0 (or within the subnormal
// range) below it, +Inf above MaxFloat32, NaN for NaN.
func checkExp(got float32, x float32) (ok bool, rel float64) {
	if x != x {
		return got != got, 0
	}
	want := math.Exp(float64(x))
	g := float64(got)
	switch {
	case want > math.MaxFloat32*(1+3e-7):
		return math.IsInf(g, 1), 0
	case want >= math.MaxFloat32:
		return math.IsInf(g, 1) || g >= math.MaxFloat32*(1-3e-7), 0
	case want < minNormal:
		return g >= 0 && g <= minNormal, 0
	}
	rel = math.Abs(g-want) / want
	return rel <= 3e-7, rel
}

func TestExp(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		worst := 0.0
		for _, n := range lengths() {
			for rep := 0; rep < 4; rep++ {
				src := slice(r, n, func() float32 { return randX(r) })
				dst := slice(r, n, func() float32 { return 12345 })
				Exp(dst, src)
				for i, x := range src {
					ok, rel := checkExp(dst[i], x)
					if !ok {
						t.Fatalf("n=%d: Exp(%g) = %g, want %g", n, x, dst[i], math.Exp(float64(x)))
					}
					worst = max(worst, rel)
				}
			}
		}
		t.Logf("worst relative error %.3g", worst)
	})
}

// TestExpSweep checks a dense sweep across and beyond the float32 range.
func TestExpSweep(t *testing.T) {
	var src []float32
	for x := float32(-104); x < 90; x += 0.0037 {
		src = append(src, x)
	}
	dst := make([]float32, len(src))
	forEachPath(t, func(t *testing.T) {
		Exp(dst, src)
		worst := 0.0
		for i, x := range src {
			ok, rel := checkExp(dst[i], x)
			if !ok {
				t.Fatalf("Exp(%g) = %g, want %g", x, dst[i], math.Exp(float64(x)))
			}
			worst = max(worst, rel)
		}
		t.Logf("%d points, worst relative error %.3g", len(src), worst)
	})
}

func TestExpSpecial(t *testing.T) {
	cases := []struct{ x, want float32 }{
		{inf, inf}, {-inf, 0}, {100, inf}, {88.8, inf}, {-100, 0}, {-87.5, 0}, {0, 1}, {nzer, 1},
	}
	forEachPath(t, func(t *testing.T) {
		// Every position of a 19-element slice, so each lands in the
		// 16-block, the 8-block... and the masked tail in turn.
		for _, c := range cases {
			for pos := 0; pos < 19; pos++ {
				src := make([]float32, 19)
				src[pos] = c.x
				dst := make([]float32, 19)
				Exp(dst, src)
				if got := dst[pos]; got != c.want || math.Signbit(float64(got)) {
					t.Fatalf("Exp(%g) at %d = %g, want %g", c.x, pos, got, c.want)
				}
				src[pos] = nan
				Exp(dst, src)
				if got := dst[pos]; got == got {
					t.Fatalf("Exp(NaN) at %d = %g", pos, got)
				}
			}
		}
		// Just inside the finite range.
		dst := []float32{0}
		Exp(dst, []float32{88.72})
		if math.IsInf(float64(dst[0]), 0) || dst[0] < 3e38 {
			t.Errorf("Exp(88.72) = %g, want ≈ 3.39e38", dst[0])
		}
	})
}

func TestExpAlias(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range lengths() {
			x := slice(r, n, func() float32 { return randX(r) })
			want := make([]float32, n)
			Exp(want, x)
			Exp(x, x)
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d i=%d: aliased %g, separate %g", n, i, x[i], want[i])
				}
			}
			// ExpSubSum in place, as softmax uses it.
			y := slice(r, n, func() float32 { return float32(r.Float64()*20 - 15) })
			want2 := make([]float32, n)
			s1 := ExpSubSum(want2, y, 1.5)
			s2 := ExpSubSum(y, y, 1.5)
			if s1 != s2 {
				t.Fatalf("n=%d: aliased sum %g, separate %g", n, s2, s1)
			}
			for i := range y {
				if y[i] != want2[i] {
					t.Fatalf("n=%d i=%d: aliased %g, separate %g", n, i, y[i], want2[i])
				}
			}
		}
	})
}

func TestExpSubSum(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range lengths() {
			for rep := 0; rep < 4; rep++ {
				shift := float32(r.Float64()*40 - 20)
				src := slice(r, n, func() float32 {
					if r.IntN(5) == 0 {
						return -inf // masked position
					}
					return shift + float32(r.Float64()*30-25)
				})
				dst := slice(r, n, func() float32 { return 12345 })
				got := ExpSubSum(dst, src, shift)
				want := 0.0
				for i, x := range src {
					d := x - shift // the kernel's float32 subtraction
					if ok, _ := checkExp(dst[i], d); !ok {
						t.Fatalf("n=%d: e^(%g−%g) = %g, want %g", n, x, shift, dst[i], math.Exp(float64(d)))
					}
					if x == -inf && dst[i] != 0 {
						t.Fatalf("n=%d: e^(−Inf−%g) = %g, want 0", n, shift, dst[i])
					}
					want += math.Exp(float64(d))
				}
				if n == 0 {
					if got != 0 {
						t.Fatalf("empty sum = %g", got)
					}
					continue
				}
				if err := math.Abs(float64(got) - want); err > 1e-6*float64(n)*want+1e-37 {
					t.Fatalf("n=%d: sum %g, want %g (rel %.2g)", n, got, want, err/want)
				}
			}
		}
		// A fully masked row with a finite shift sums to exactly 0.
		row := []float32{-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf}
		if s := ExpSubSum(row, row, 3); s != 0 {
			t.Errorf("masked row sum = %g", s)
		}
	})
}

func sigmoid64(g float64) float64 { return 1 / (1 + math.Exp(-g)) }

// closeTo: NaN and infinities must match exactly, finite values within
// 1e−6 of scale (the magnitude of the terms that make up want) plus 1e−35:
// for gate < −88.7, e^−g overflows and σ saturates to 0, as in the scalar
// reference, where the true value is below ~1e−36.
func closeTo(got float32, want, scale float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.IsInf(want, 0):
		return g == want
	}
	return !math.IsNaN(g) && math.Abs(g-want) <= 1e-6*scale+1e-35
}

func randGate(r *rand.Rand) float32 {
	switch r.IntN(6) {
	case 0:
		return float32(r.Float64()*200 - 100)
	case 1, 2:
		return float32(r.Float64()*40 - 20)
	case 3, 4:
		return float32(r.NormFloat64() * 2)
	default:
		return specials[r.IntN(len(specials))]
	}
}

func randFactor(r *rand.Rand) float32 {
	if r.IntN(20) == 0 {
		return 0
	}
	return float32(r.Float64()*6 - 3)
}

func checkSiLUMul(t *testing.T, out, gate, up []float32) {
	t.Helper()
	for i, g := range gate {
		g64, u64 := float64(g), float64(up[i])
		want := g64 * sigmoid64(g64) * u64
		if !closeTo(out[i], want, math.Abs(want)) {
			t.Fatalf("i=%d: SiLUMul(gate %g, up %g) = %g, want %g", i, g, up[i], out[i], want)
		}
	}
}

func checkSiLUMulBackward(t *testing.T, dGate, dUp, dOut, gate, up []float32) {
	t.Helper()
	for i, g := range gate {
		g64, u64, d64 := float64(g), float64(up[i]), float64(dOut[i])
		s := sigmoid64(g64)
		wantUp := d64 * g64 * s
		wantGate := d64 * u64 * s * (1 + g64*(1-s))
		scale := math.Abs(d64*u64) * (s + math.Abs(g64)*s*(1-s))
		if !closeTo(dUp[i], wantUp, math.Abs(wantUp)) || !closeTo(dGate[i], wantGate, scale) {
			t.Fatalf("i=%d: gate %g up %g dOut %g: dGate %g dUp %g, want %g %g",
				i, g, up[i], dOut[i], dGate[i], dUp[i], wantGate, wantUp)
		}
	}
}

func TestSiLUMul(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range lengths() {
			for rep := 0; rep < 4; rep++ {
				gate := slice(r, n, func() float32 { return randGate(r) })
				up := slice(r, n, func() float32 { return randFactor(r) })
				out := slice(r, n, func() float32 { return 12345 })
				SiLUMul(out, gate, up)
				checkSiLUMul(t, out, gate, up)
				// In place over gate.
				g2 := append([]float32(nil), gate...)
				SiLUMul(g2, g2, up)
				sameBits(t, n, g2, out)
			}
		}
	})
}

func TestSiLUMulBackward(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range lengths() {
			for rep := 0; rep < 4; rep++ {
				gate := slice(r, n, func() float32 { return randGate(r) })
				up := slice(r, n, func() float32 { return randFactor(r) })
				dOut := slice(r, n, func() float32 { return randFactor(r) })
				dGate := slice(r, n, func() float32 { return 12345 })
				dUp := slice(r, n, func() float32 { return 12345 })
				SiLUMulBackward(dGate, dUp, dOut, gate, up)
				checkSiLUMulBackward(t, dGate, dUp, dOut, gate, up)
				// In place: dGate over gate, dUp over up.
				g2 := append([]float32(nil), gate...)
				u2 := append([]float32(nil), up...)
				SiLUMulBackward(g2, u2, dOut, g2, u2)
				for i := range g2 {
					if math.Float32bits(g2[i]) != math.Float32bits(dGate[i]) || math.Float32bits(u2[i]) != math.Float32bits(dUp[i]) {
						t.Fatalf("n=%d i=%d: aliased (%g, %g), separate (%g, %g)", n, i, g2[i], u2[i], dGate[i], dUp[i])
					}
				}
			}
		}
	})
}

func TestSiLUSpecial(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, g := range specials {
			for pos := 0; pos < 19; pos++ {
				gate := make([]float32, 19)
				up := make([]float32, 19)
				dOut := make([]float32, 19)
				for i := range gate {
					gate[i], up[i], dOut[i] = 0.5, 1.5, 0.7
				}
				gate[pos] = g
				out := make([]float32, 19)
				dGate := make([]float32, 19)
				dUp := make([]float32, 19)
				SiLUMul(out, gate, up)
				checkSiLUMul(t, out, gate, up)
				SiLUMulBackward(dGate, dUp, dOut, gate, up)
				checkSiLUMulBackward(t, dGate, dUp, dOut, gate, up)
				switch g {
				case -100:
					if out[pos] != 0 || dGate[pos] != 0 || dUp[pos] != 0 {
						t.Fatalf("gate −100: SiLU %g dGate %g dUp %g, want ±0", out[pos], dGate[pos], dUp[pos])
					}
				case 100:
					if out[pos] != 150 || dUp[pos] != 70 || dGate[pos] != float32(0.7)*1.5 {
						t.Fatalf("gate 100: SiLU %g dGate %g dUp %g, want 150, 1.05, 70", out[pos], dGate[pos], dUp[pos])
					}
				}
			}
		}
	})
}

func TestLengthMismatchPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Exp":       func() { Exp(make([]float32, 3), make([]float32, 4)) },
		"ExpSubSum": func() { ExpSubSum(make([]float32, 4), make([]float32, 3), 0) },
		"SiLUMul":   func() { SiLUMul(make([]float32, 4), make([]float32, 4), make([]float32, 3)) },
		"SiLUMulBackward": func() {
			SiLUMulBackward(make([]float32, 4), make([]float32, 4), make([]float32, 4), make([]float32, 4), make([]float32, 5))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on length mismatch", name)
				}
			}()
			f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const n = 1027
		a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
		d, e := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], c[i] = float32(i%50)-25, 0.5, 0.25
		}
		allocs := testing.AllocsPerRun(20, func() {
			Exp(d, a)
			_ = ExpSubSum(d, a, 3)
			SiLUMul(d, a, b)
			SiLUMulBackward(d, e, c, a, b)
		})
		if allocs != 0 {
			t.Errorf("%v allocations per run, want 0", allocs)
		}
	})
}
