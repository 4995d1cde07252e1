// Package half converts the 16-bit floating-point formats of model checkpoints — bfloat16
// (float32's top half) and IEEE 754 half precision — to float32, exactly, and float32 to
// bfloat16, rounded to nearest even as PyTorch does.
package half

import "math"

// BF16ToFloat32 widens a bfloat16 (the top half of a float32's bits) exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 rounds x to the nearest bfloat16, ties to even, as PyTorch's .to(torch.bfloat16)
// does; a NaN stays a (quiet) NaN.
func Float32ToBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if x != x {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// F16ToFloat32 widens an IEEE 754 half-precision value exactly (subnormals, infinities and
// NaNs included).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal: rebias 15 → 127
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: man·2⁻²⁴, exact in float32.
	v := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
