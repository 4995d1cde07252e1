package core

import (
	"math"
	"testing"
)

// TestUniformDistribution: the draws are uniform (moments and a 16-bin chi-square) and distinct
// coordinates give uncorrelated values.
func TestUniformDistribution(t *testing.T) {
	const n = 1 << 16
	var sum, sq, lag float64
	bins := make([]int, 16)
	prev := 0.0
	for i := uint32(0); i < n; i++ {
		u := Uniform(7, StreamGumbel, i%13, i/13, i%5)
		if !(u > 0 && u < 1) {
			t.Fatalf("Uniform = %g, outside (0, 1)", u)
		}
		sum += u
		sq += u * u
		lag += (u - 0.5) * (prev - 0.5)
		prev = u
		bins[int(u*16)]++
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	if math.Abs(mean-0.5) > 0.005 || math.Abs(variance-1.0/12) > 0.002 {
		t.Errorf("mean %g, variance %g; want 0.5, 0.0833", mean, variance)
	}
	if corr := lag / n * 12; math.Abs(corr) > 0.02 {
		t.Errorf("lag-1 correlation %g", corr)
	}
	var chi2 float64
	for _, c := range bins {
		d := float64(c) - n/16.0
		chi2 += d * d / (n / 16.0)
	}
	if chi2 > 37.7 { // 99.9th percentile of χ² with 15 degrees of freedom
		t.Errorf("chi-square %g over 16 bins", chi2)
	}
	if Hash32(1, 2, 3, 4, 5) == Hash32(1, 2, 3, 4, 6) || Hash32(1, 1, 3, 4, 5) == Hash32(1, 2, 3, 4, 5) {
		t.Error("neighbouring coordinates collide")
	}
}
