package rl

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// AdamW holds the optimizer state for a model's trainable tensors (PyTorch's AdamW on the
// backend): a frozen weight has none.
type AdamW struct {
	M, V []*core.Tensor // first and second moments, one per entry of the model's Trainables
	Step int            // updates taken so far
}

// NewAdamW allocates zeroed moments for m's trainable tensors.
func NewAdamW(m *model.Model) *AdamW {
	o := &AdamW{}
	for _, t := range m.Trainables() {
		o.M = append(o.M, m.B.Alloc(core.F32, t.Param.Shape()...))
		o.V = append(o.V, m.B.Alloc(core.F32, t.Param.Shape()...))
	}
	return o
}

// Update clips the gradients to maxNorm (0: no clipping), takes one AdamW step at learning
// rate lr and returns the gradient norm before clipping.
func (o *AdamW) Update(m *model.Model, h core.AdamHyper, maxNorm float32, norm *core.Tensor) float64 {
	b, ts := m.B, m.Trainables()
	grads := make([]*core.Tensor, len(ts))
	for i, t := range ts {
		grads[i] = t.Grad
	}
	b.ClipGradNorm(norm, grads, maxNorm)
	o.Step++
	for i, t := range ts {
		b.AdamW(t.Param, t.Grad, o.M[i], o.V[i], o.Step, h)
	}
	v := []float32{0}
	b.Download(norm, v)
	return float64(v[0])
}

// moments pairs each checkpoint name prefix with its moment buffers.
func (o *AdamW) moments() map[string][]*core.Tensor {
	return map[string][]*core.Tensor{"optim.m.": o.M, "optim.v.": o.V}
}

// State encodes the moments as checkpoint tensors "optim.m.<name>" and "optim.v.<name>", named
// after m's trainable tensors.
func (o *AdamW) State(m *model.Model) map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	ts := m.Trainables()
	for prefix, ms := range o.moments() {
		for i, t := range ts {
			v := make([]float32, ms[i].Len())
			m.B.Download(ms[i], v)
			out[prefix+t.Name] = safetensors.FromFloat32(v, ms[i].Shape()...)
		}
	}
	return out
}

// Restore loads the moments written by State from a parsed checkpoint, with the number of
// updates they have seen (AdamW's bias correction depends on it).
func (o *AdamW) Restore(m *model.Model, name string, f *safetensors.File, step int) error {
	ts := m.Trainables()
	for prefix, ms := range o.moments() {
		for i, tr := range ts {
			t, ok := f.Tensors[prefix+tr.Name]
			if !ok {
				return fmt.Errorf("checkpoint %s: optimizer tensor %s%s is missing", name, prefix, tr.Name)
			}
			v, err := t.Float32()
			if err != nil || len(v) != ms[i].Len() {
				return fmt.Errorf("checkpoint %s: optimizer tensor %s%s has shape %v, want %v", name, prefix, tr.Name, t.Shape, ms[i].Shape())
			}
			m.B.Upload(ms[i], v)
		}
	}
	o.Step = step
	return nil
}

// LearningRate is the schedule: linear warmup from 0 over warmup steps, then constant or a
// cosine decay to minRatio·lr at the last step. step counts from 1.
func LearningRate(t TrainConfig, step int) float64 {
	if t.WarmupSteps > 0 && step <= t.WarmupSteps {
		return t.LR * float64(step) / float64(t.WarmupSteps)
	}
	if t.Schedule != Cosine || t.Steps <= t.WarmupSteps {
		return t.LR
	}
	progress := float64(step-t.WarmupSteps) / float64(t.Steps-t.WarmupSteps)
	cos := 0.5 * (1 + math.Cos(math.Pi*min(progress, 1)))
	return t.LR * (t.MinLRRatio + (1-t.MinLRRatio)*cos)
}
