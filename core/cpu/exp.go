package cpu

import "math"

// exp32 is e^x in float32, about 4× faster than math.Exp: attention, softmax and SiLU spend
// most of their time here. Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then a
// degree-6 polynomial for e^r (Cephes' expf coefficients), then scaling by 2^n through the
// exponent bits. Relative error ≤ 2 ulp; the rare arguments whose 2^n would leave the normal
// range go to math.Exp.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if !(x > -87.3 && x < 88.0) {
		return float32(math.Exp(float64(x))) // NaN, ±Inf, and the edges of the range
	}
	fn := x * log2e
	var n int32
	if fn >= 0 {
		n = int32(fn + 0.5)
	} else {
		n = int32(fn - 0.5)
	}
	nf := float32(n)
	r := x - nf*ln2hi - nf*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(n+127)<<23)
}
