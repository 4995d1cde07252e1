package rl

import (
	"fmt"
	"slices"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// A LoRA run (model.lora.r > 0) trains adapters on a frozen model.init: its checkpoint holds the
// adapters and their optimizer state, not the base, which resume reloads from model.init (kept
// 16-bit when it is a 16-bit folder); its KL reference is the same base with the adapters off.

// encodeTrainables downloads the model's trainable tensors under their names: every parameter
// for full fine-tuning (as Params.Encode), the adapters for LoRA.
func encodeTrainables(m *model.Model) map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	for _, tr := range m.Trainables() {
		v := make([]float32, tr.Param.Len())
		m.B.Download(tr.Param, v)
		out[tr.Name] = safetensors.FromFloat32(v, tr.Param.Shape()...)
	}
	return out
}

// resumeLoRA rebuilds a LoRA run's model from a checkpoint: the base from model.init, which must
// have the architecture the checkpoint was trained on (a path, or a name in named), and the
// adapters from the checkpoint.
func resumeLoRA(cfg Config, named Catalog, path string, f *safetensors.File, b core.Backend) (*model.Model, *model.Checkpoint, error) {
	mc, err := model.ConfigOf(path, f)
	if err != nil {
		return nil, nil, err
	}
	base, err := LoadModelAs(cfg.Model.Init, named, b, AsStored)
	if err != nil {
		return nil, nil, fmt.Errorf("model.init: %w", err)
	}
	if err := base.Config.Matches(mc); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s was trained on another base than model.init %s: %w", path, cfg.Model.Init, err)
	}
	m := model.New(b, base.Config, base.Params)
	if err := m.AttachLoRA(cfg.Model.LoRA, cfg.Run.Seed); err != nil {
		return nil, nil, fmt.Errorf("model.lora.%w", err)
	}
	for _, tr := range m.Trainables() {
		t, ok := f.Tensors[tr.Name]
		if !ok {
			return nil, nil, fmt.Errorf("checkpoint %s: adapter tensor %s is missing", path, tr.Name)
		}
		v, err := t.Float32()
		if err != nil || !slices.Equal(t.Shape, tr.Param.Shape()) {
			return nil, nil, fmt.Errorf("checkpoint %s: adapter tensor %s has shape %v, model.lora needs %v", path, tr.Name, t.Shape, tr.Param.Shape())
		}
		b.Upload(tr.Param, v)
	}
	return m, &model.Checkpoint{Config: mc, Params: base.Params, Metadata: model.ExtraMetadata(f), DataChecked: f.Checked}, nil
}

// finalParams are the parameters model.safetensors gets: the model's own, or with LoRA the
// merged W + (α/r)·B·A (as float32), with a func that frees what was made for them.
func finalParams(m *model.Model) (*model.Params, func()) {
	if m.LoRA == nil {
		return m.P, func() {}
	}
	p := m.MergedParams()
	return p, func() {
		for _, n := range p.List(m.Cfg) {
			m.B.Free(n.Tensor)
		}
	}
}
