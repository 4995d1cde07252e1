package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/dllmrl/agrpo/core/atomicfile"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// Files of an adapter folder, as PEFT's save_pretrained writes them.
const (
	AdapterWeightsFile = "adapter_model.safetensors"
	AdapterConfigFile  = "adapter_config.json"
)

// peftConfig is adapter_config.json: the keys that decide what the adapters compute. PEFT writes
// many more (task_type, revision, …), which are ignored.
type peftConfig struct {
	PEFTType          string          `json:"peft_type"`
	R                 *int            `json:"r"`
	Alpha             *float64        `json:"lora_alpha"`
	Dropout           float64         `json:"lora_dropout"`
	Targets           json.RawMessage `json:"target_modules"`
	Bias              string          `json:"bias,omitempty"`
	FanInFanOut       bool            `json:"fan_in_fan_out"`
	UseRSLoRA         bool            `json:"use_rslora"`
	UseDoRA           bool            `json:"use_dora"`
	ModulesToSave     json.RawMessage `json:"modules_to_save,omitempty"`
	LayersToTransform json.RawMessage `json:"layers_to_transform,omitempty"`
	RankPattern       json.RawMessage `json:"rank_pattern,omitempty"`
	AlphaPattern      json.RawMessage `json:"alpha_pattern,omitempty"`
	BaseModel         string          `json:"base_model_name_or_path"`
	InferenceMode     bool            `json:"inference_mode"`
}

// ParseAdapterConfig reads PEFT's adapter_config.json. Settings that would make PEFT compute
// something else than y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ on the listed modules (rsLoRA, DoRA, biases,
// per-module ranks, a regex target, …) are refused by key, as is anything Validate refuses.
func ParseAdapterConfig(raw []byte) (LoRAConfig, error) {
	var pc peftConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return LoRAConfig{}, fmt.Errorf("%s: %w", AdapterConfigFile, err)
	}
	bad := func(format string, args ...any) (LoRAConfig, error) {
		return LoRAConfig{}, fmt.Errorf("%s: %s", AdapterConfigFile, fmt.Sprintf(format, args...))
	}
	set := func(m json.RawMessage) bool {
		s := string(bytes.TrimSpace(m))
		return s != "" && s != "null" && s != "{}" && s != "[]"
	}
	switch {
	case pc.PEFTType != "LORA":
		return bad("peft_type %q, want \"LORA\"", pc.PEFTType)
	case pc.R == nil || pc.Alpha == nil:
		return bad("r and lora_alpha must both be given")
	case pc.Bias != "" && pc.Bias != "none":
		return bad("bias %q: only \"none\" is supported", pc.Bias)
	case pc.FanInFanOut:
		return bad("fan_in_fan_out true: LLaDA's linears are [out, in], want false")
	case pc.UseRSLoRA:
		return bad("use_rslora true (scaling alpha/√r): not supported")
	case pc.UseDoRA:
		return bad("use_dora true: not supported")
	case set(pc.ModulesToSave):
		return bad("modules_to_save %s: not supported", pc.ModulesToSave)
	case set(pc.LayersToTransform):
		return bad("layers_to_transform %s: not supported", pc.LayersToTransform)
	case set(pc.RankPattern) || set(pc.AlphaPattern):
		return bad("rank_pattern/alpha_pattern: per-module ranks are not supported")
	}
	var targets []string
	if err := json.Unmarshal(pc.Targets, &targets); err != nil {
		return bad("target_modules %s: want a list of module names (a regex string is not supported)", pc.Targets)
	}
	l := LoRAConfig{R: *pc.R, Alpha: *pc.Alpha, Dropout: pc.Dropout, Targets: targets}
	if err := l.Validate(); err != nil {
		return LoRAConfig{}, fmt.Errorf("%s: %w", AdapterConfigFile, err)
	}
	return l, nil
}

// SaveAdapter writes m's adapters to dir as PEFT's save_pretrained does: adapter_model.safetensors
// (float32, PEFT's tensor names) and adapter_config.json naming base, atomically each.
func SaveAdapter(dir string, m *Model, base string) error {
	if m.LoRA == nil {
		return fmt.Errorf("adapter %s: the model has no adapters", dir)
	}
	l := m.LoRA.Cfg
	r, alpha := l.R, l.Alpha
	raw, err := json.MarshalIndent(peftConfig{PEFTType: "LORA", R: &r, Alpha: &alpha, Dropout: l.Dropout,
		Targets: mustJSON(l.Targets), Bias: "none", BaseModel: base, InferenceMode: true}, "", "  ")
	if err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	tensors := map[string]safetensors.Tensor{}
	for _, tr := range m.Trainables() {
		v := make([]float32, tr.Param.Len())
		m.B.Download(tr.Param, v)
		tensors[tr.Name] = safetensors.FromFloat32(v, tr.Param.Shape()...)
	}
	if err := atomicfile.Write(filepath.Join(dir, AdapterWeightsFile), func(w io.Writer) error {
		return safetensors.Write(w, map[string]string{"format": "pt"}, tensors)
	}); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, AdapterConfigFile), func(w io.Writer) error {
		_, err := w.Write(append(raw, '\n'))
		return err
	})
}

func mustJSON(v []string) json.RawMessage {
	raw, _ := json.Marshal(v) // a []string always encodes
	return raw
}

// LoadAdapter reads a PEFT adapter folder (SaveAdapter's, or PEFT's for a LLaDA model) and
// attaches it to m: every tensor the config implies must be there with its shape, and no other.
func (m *Model) LoadAdapter(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile)) // as hf.go reads config.json
	if err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	l, err := ParseAdapterConfig(raw)
	if err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	path := filepath.Join(dir, AdapterWeightsFile)
	data, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("adapter: %w", err)
	}
	f, err := safetensors.Parse(data)
	if err != nil {
		return fmt.Errorf("adapter %s: %w", path, err)
	}
	if err := m.AttachLoRA(l, 0); err != nil {
		return fmt.Errorf("adapter %s: %w", dir, err)
	}
	trainables := m.Trainables()
	for _, tr := range trainables {
		t, ok := f.Tensors[tr.Name]
		if !ok {
			return fmt.Errorf("adapter %s: tensor %s is missing", path, tr.Name)
		}
		if !slices.Equal(t.Shape, tr.Param.Shape()) {
			return fmt.Errorf("adapter %s: tensor %s has shape %v, the model and r = %d need %v", path, tr.Name, t.Shape, l.R, tr.Param.Shape())
		}
		v, err := t.Float32()
		if err != nil {
			return fmt.Errorf("adapter %s: tensor %s: %w", path, tr.Name, err)
		}
		m.B.Upload(tr.Param, v)
	}
	if len(f.Tensors) != len(trainables) {
		for n := range f.Tensors {
			if !slices.ContainsFunc(trainables, func(tr Trainable) bool { return tr.Name == n }) {
				return fmt.Errorf("adapter %s: unexpected tensor %s (not an adapter of target_modules on this model)", path, n)
			}
		}
	}
	return nil
}
