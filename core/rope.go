package core

import "math"

// RoPECosSin is the rotation of frequency i (0 ≤ i < headDim/2) at position p that RoPE and
// RoPEBackward apply to the pair (i, i + headDim/2): angle p·θ^(−2i/headDim), computed in
// float64 and rounded once. The backends lay their tables out differently; the angles are this.
func RoPECosSin(p, i, headDim int, theta float32) (cos, sin float32) {
	ang := float64(p) * math.Pow(float64(theta), -2*float64(i)/float64(headDim))
	return float32(math.Cos(ang)), float32(math.Sin(ang))
}
