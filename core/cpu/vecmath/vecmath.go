// Package vecmath holds vectorised float32 slice kernels for the CPU
// backend's hot element-wise math: e^x for softmax rows, the SiLU-gated
// MLP activation and its gradient, and the short row loops of RMSNorm, RoPE
// and attention (sum of squares, scaled products, maximum, rotation). A scalar exp per element was ~30% of a
// training step; these kernels run 8 lanes at a time (AVX2+FMA assembly on
// amd64) and fall back to portable Go elsewhere.
//
// The portable path is used on other architectures, on wasm, with the
// purego build tag, and when AGRPO_PUREGO=1 is set (read once at init), the
// same convention as core/cpu/gemm.
//
// Accuracy: e^x has relative error ≤ 3e−7 wherever the result is a normal
// float32. Results below the normal range (x < ln 2^−126 ≈ −87.34) flush to
// 0, x > ln MaxFloat32 ≈ 88.72 gives +Inf, e^−Inf = 0, e^+Inf = +Inf and NaN
// stays NaN.
package vecmath

import "os"

// useAsm selects the assembly kernels. It is fixed at init (hasAsm comes
// from the per-architecture file) and flipped only by tests, so that both
// paths are checked in one run.
var useAsm = hasAsm && os.Getenv("AGRPO_PUREGO") != "1"

// Kernel names the implementation in use: "avx2" (AVX2+FMA assembly) or
// "go" (portable), so benchmarks and logs can say what they measured.
func Kernel() string {
	if useAsm {
		return "avx2"
	}
	return "go"
}

// Exp sets dst[i] = e^src[i] (len(dst) == len(src); dst may alias src).
// It is the bulk replacement for a per-element scalar exp.
func Exp(dst, src []float32) {
	if len(dst) != len(src) {
		panic("vecmath: Exp: len(dst) != len(src)")
	}
	if useAsm {
		expAsm(dst, src)
		return
	}
	expGo(dst, src)
}

// ExpSubSum sets dst[i] = e^(src[i]−shift) and returns Σ dst[i]
// (accumulated in float32 lanes, summed at the end). It is the softmax
// kernel, fusing the max-shift, the exp and the normaliser into one pass:
// −Inf inputs (masked positions) give exactly 0. dst may alias src.
func ExpSubSum(dst, src []float32, shift float32) float32 {
	if len(dst) != len(src) {
		panic("vecmath: ExpSubSum: len(dst) != len(src)")
	}
	if useAsm {
		return expSubSumAsm(dst, src, shift)
	}
	return expSubSumGo(dst, src, shift)
}

// SiLUMul sets out[i] = gate[i]·σ(gate[i])·up[i], σ(x) = 1/(1+e^−x): the
// SwiGLU activation in one pass. σ saturates without NaN for large |gate|
// (gate = −100 gives ±0, gate = +100 gives 100·up). out may alias gate or up.
func SiLUMul(out, gate, up []float32) {
	if len(gate) != len(out) || len(up) != len(out) {
		panic("vecmath: SiLUMul: slice lengths differ")
	}
	if useAsm {
		siluMulAsm(out, gate, up)
		return
	}
	siluMulGo(out, gate, up)
}

// SiLUMulBackward is the gradient of SiLUMul: it sets
// dGate[i] = dOut[i]·up[i]·σ(g)·(1 + g·(1−σ(g))) and dUp[i] = dOut[i]·g·σ(g),
// g = gate[i], computing σ once per element for both. The outputs may alias
// the inputs element-wise (dGate[i] and dUp[i] are written after all five
// inputs at i are read) but not each other.
func SiLUMulBackward(dGate, dUp, dOut, gate, up []float32) {
	n := len(dOut)
	if len(dGate) != n || len(dUp) != n || len(gate) != n || len(up) != n {
		panic("vecmath: SiLUMulBackward: slice lengths differ")
	}
	if useAsm {
		siluMulBackwardAsm(dGate, dUp, dOut, gate, up)
		return
	}
	siluMulBackwardGo(dGate, dUp, dOut, gate, up)
}

// SumSquares returns Σ x[i]², accumulated in float32 lanes (several
// independent partial sums, added at the end): RMSNorm's mean square. The
// order of the additions differs between the paths, so the two agree to
// rounding, not bit for bit.
func SumSquares(x []float32) float32 {
	if useAsm {
		return sumSquaresAsm(x)
	}
	return sumSquaresGo(x)
}

// ScaleMul sets out[i] = x[i]·s·w[i], the product (x[i]·s)·w[i] rounded as
// written: RMSNorm's output row. out may alias x.
func ScaleMul(out, x, w []float32, s float32) {
	if len(x) != len(out) || len(w) != len(out) {
		panic("vecmath: ScaleMul: slice lengths differ")
	}
	if useAsm {
		scaleMulAsm(out, x, w, s)
		return
	}
	scaleMulGo(out, x, w, s)
}

// Max returns the largest element of x, −Inf for an empty x, and NaN when
// any element is NaN (as the built-in max does).
func Max(x []float32) float32 {
	if useAsm {
		return maxAsm(x)
	}
	return maxGo(x)
}

// Rotate turns every pair (x[i], y[i]) by the angle whose cosine and sine
// are c[i] and sign·s[i] (sign = ±1; −1 is the inverse rotation):
// x[i], y[i] = x·c − y·s′, y·c + x·s′, each product rounded before the sum.
// It is RoPE's rotation of a head's two halves.
func Rotate(x, y, c, s []float32, sign float32) {
	n := len(x)
	if len(y) != n || len(c) != n || len(s) != n {
		panic("vecmath: Rotate: slice lengths differ")
	}
	if useAsm {
		rotateAsm(x, y, c, s, sign)
		return
	}
	rotateGo(x, y, c, s, sign)
}
