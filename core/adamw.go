package core

import (
	"fmt"
	"math"
)

// StepScalars are the per-step constants of AdamW's update at step (≥ 1) that every backend
// applies elementwise: the bias-corrected step size lr/(1−β1^step), √(1−β2^step), and the
// decoupled weight-decay factor 1 − lr·wd; the corrections are computed in float64.
func (h AdamHyper) StepScalars(step int) (stepSize, sqrtBC2, decay float32, err error) {
	if step < 1 {
		return 0, 0, 0, fmt.Errorf("adamw step %d, want ≥ 1", step)
	}
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(step))
	return float32(float64(h.LR) / bc1), float32(math.Sqrt(bc2)), 1 - h.LR*h.WeightDecay, nil
}
