package vecmath

import "math"

// Constants shared with the assembly (vecmath_amd64.s holds the same
// values as bit patterns). The range reduction is Cody–Waite with a 9-bit
// ln2hi so n·ln2hi is exact even without FMA; the polynomial is Cephes'
// expf. The scale 2^n is applied as two factors 2^(n>>1)·2^(n−n>>1), so n
// up to 128 (x up to ln MaxFloat32) stays finite and beyond it overflows
// to +Inf by itself; only the low end needs an explicit flush to 0.
const (
	expLo    = -87.33654022216797 // smallest float32 ≥ ln 2^−126: below it the result would be subnormal; flush to 0
	expHi    = 89                 // clamp: keeps n ≤ 128 while e^89 still overflows to +Inf
	log2e    = 1.44269504088896341
	ln2hi    = 0.693359375
	ln2lo    = -2.12194440e-4
	expMagic = 12582912 // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
	expC5    = 1.9875691500e-4
	expC4    = 1.3981999507e-3
	expC3    = 8.3334519073e-3
	expC2    = 4.1665795894e-2
	expC1    = 1.6666665459e-1
	expC0    = 5.0000001201e-1
)

// expAffine sets dst[i] = e^(a·src[i] − b), the one portable exp loop the
// other functions build on (a = −1 gives σ's e^−g, b the softmax shift).
// The body is written out rather than calling a scalar helper because such
// a helper is over the inliner's budget, and the call would cost more than
// the arithmetic.
func expAffine(dst, src []float32, a, b float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		x := a*v - b
		if !(x >= expLo) { // below the normal range, −Inf or NaN
			if x == x {
				x = 0
			}
			dst[i] = x
			continue
		}
		if x > expHi {
			x = expHi
		}
		t := x*log2e + expMagic
		n := int32(math.Float32bits(t)) - 0x4b400000
		fn := t - expMagic
		r := x - fn*ln2hi - fn*ln2lo
		p := ((((expC5*r+expC4)*r+expC3)*r+expC2)*r+expC1)*r + expC0
		p = (p*r+1)*r + 1
		n1 := n >> 1
		dst[i] = p * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n-n1+127)<<23)
	}
}

func expGo(dst, src []float32) { expAffine(dst, src, 1, 0) }

func expSubSumGo(dst, src []float32, shift float32) float32 {
	expAffine(dst, src, 1, shift)
	var s0, s1, s2, s3 float32
	d := dst[:len(src)]
	for ; len(d) >= 4; d = d[4:] {
		s0 += d[0]
		s1 += d[1]
		s2 += d[2]
		s3 += d[3]
	}
	for _, v := range d {
		s0 += v
	}
	return (s0 + s1) + (s2 + s3)
}

// chunk is how many e^−g values the portable SiLU kernels hold on the
// stack at a time (1 KiB: small, no allocation, still amortises the loop).
const chunk = 256

func siluMulGo(out, gate, up []float32) {
	gate, up = gate[:len(out)], up[:len(out)]
	var e [chunk]float32
	for len(out) > 0 {
		m := min(len(out), chunk)
		expAffine(e[:m], gate[:m], -1, 0)
		for i, g := range gate[:m] {
			out[i] = g * up[i] / (1 + e[i])
		}
		out, gate, up = out[m:], gate[m:], up[m:]
	}
}

func siluMulBackwardGo(dGate, dUp, dOut, gate, up []float32) {
	n := len(dOut)
	dGate, dUp, gate, up = dGate[:n], dUp[:n], gate[:n], up[:n]
	var e [chunk]float32
	for len(dOut) > 0 {
		m := min(len(dOut), chunk)
		expAffine(e[:m], gate[:m], -1, 0)
		for i, d := range dOut[:m] {
			g, u := gate[i], up[i]
			s := 1 / (1 + e[i])
			gs := g * s
			// 1−σ as e^−g·σ: precise when σ is near 1, where 1−σ by
			// subtraction cost up to ~1e−6 of dGate; the e^−g = +Inf,
			// σ = 0 product (NaN) goes to its limit 1.
			c := e[i] * s
			if !(c <= 1) {
				c = 1
			}
			dUp[i] = d * gs
			dGate[i] = d * u * (s + gs*c)
		}
		dGate, dUp, dOut, gate, up = dGate[m:], dUp[m:], dOut[m:], gate[m:], up[m:]
	}
}

func sumSquaresGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	for ; len(x) >= 4; x = x[4:] {
		s0 += x[0] * x[0]
		s1 += x[1] * x[1]
		s2 += x[2] * x[2]
		s3 += x[3] * x[3]
	}
	for _, v := range x {
		s0 += v * v
	}
	return (s0 + s1) + (s2 + s3)
}

func scaleMulGo(out, x, w []float32, s float32) {
	x, w = x[:len(out)], w[:len(out)]
	for i, v := range x {
		out[i] = v * s * w[i]
	}
}

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func rotateGo(x, y, c, s []float32, sign float32) {
	n := len(x)
	y, c, s = y[:n], c[:n], s[:n]
	for i, a := range x {
		ci, si, b := c[i], sign*s[i], y[i]
		x[i] = a*ci - b*si
		y[i] = b*ci + a*si
	}
}
