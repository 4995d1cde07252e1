package rl

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// AdamW holds the optimizer state for a model's parameters (PyTorch's AdamW on the backend).
type AdamW struct {
	M, V *model.Params // first and second moments
	Step int           // updates taken so far
}

// NewAdamW allocates zeroed moments for cfg.
func NewAdamW(b core.Backend, cfg model.Config) *AdamW {
	return &AdamW{M: model.NewParams(b, cfg), V: model.NewParams(b, cfg)}
}

// Update clips the gradients to maxNorm (0: no clipping), takes one AdamW step at learning
// rate lr and returns the gradient norm before clipping.
func (o *AdamW) Update(m *model.Model, h core.AdamHyper, maxNorm float32, norm *core.Tensor) float64 {
	b, cfg := m.B, m.Cfg
	grads := m.Grads.Tensors(cfg)
	b.ClipGradNorm(norm, grads, maxNorm)
	o.Step++
	ps, ms, vs := m.P.Tensors(cfg), o.M.Tensors(cfg), o.V.Tensors(cfg)
	for i := range ps {
		b.AdamW(ps[i], grads[i], ms[i], vs[i], o.Step, h)
	}
	v := []float32{0}
	b.Download(norm, v)
	return float64(v[0])
}

// State encodes the moments as checkpoint tensors "optim.m.<param>" and "optim.v.<param>".
func (o *AdamW) State(b core.Backend, cfg model.Config) map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	for prefix, p := range map[string]*model.Params{"optim.m.": o.M, "optim.v.": o.V} {
		for _, n := range p.List(cfg) {
			v := make([]float32, n.Tensor.Len())
			b.Download(n.Tensor, v)
			out[prefix+n.Name] = safetensors.FromFloat32(v, n.Tensor.Shape()...)
		}
	}
	return out
}

// Restore loads the moments written by State from a parsed checkpoint, with the number of
// updates they have seen (AdamW's bias correction depends on it).
func (o *AdamW) Restore(b core.Backend, cfg model.Config, name string, f *safetensors.File, step int) error {
	for prefix, p := range map[string]*model.Params{"optim.m.": o.M, "optim.v.": o.V} {
		for _, n := range p.List(cfg) {
			t, ok := f.Tensors[prefix+n.Name]
			if !ok {
				return fmt.Errorf("checkpoint %s: optimizer tensor %s%s is missing", name, prefix, n.Name)
			}
			v, err := t.Float32()
			if err != nil || len(v) != n.Tensor.Len() {
				return fmt.Errorf("checkpoint %s: optimizer tensor %s%s has shape %v, want %v", name, prefix, n.Name, t.Shape, n.Tensor.Shape())
			}
			b.Upload(n.Tensor, v)
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
