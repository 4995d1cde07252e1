package model

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/atomicfile"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// Format is the checkpoint's __metadata__["format"] value.
const Format = "agrpo-go/v1"

// Checkpoint is a loaded model file: its config, parameters and any extra metadata.
type Checkpoint struct {
	Config   Config
	Params   *Params
	Metadata map[string]string
	// DataChecked says the tensor data matched the checksum in the file (safetensors.File.Checked).
	DataChecked bool
}

// Save writes cfg and p to path as safetensors, atomically. extra adds metadata entries
// (e.g. the tokenizer or the training step); "format" and "config" are reserved.
func Save(path string, b core.Backend, cfg Config, p *Params, extra map[string]string) error {
	return SaveTensors(path, cfg, p.Encode(b, cfg), extra)
}

// Encode downloads every parameter as a safetensors tensor under its checkpoint name.
func (p *Params) Encode(b core.Backend, cfg Config) map[string]safetensors.Tensor {
	tensors := map[string]safetensors.Tensor{}
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		b.Download(n.Tensor, v)
		tensors[n.Name] = safetensors.FromFloat32(v, n.Tensor.Shape()...)
	}
	return tensors
}

// SaveTensors writes the config with already-encoded tensors (the model's and any others, such as
// optimizer state) atomically.
func SaveTensors(path string, cfg Config, tensors map[string]safetensors.Tensor, extra map[string]string) error {
	cj, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding config: %w", path, err)
	}
	meta := map[string]string{"format": Format, "config": string(cj)}
	for k, v := range extra {
		if k == "format" || k == "config" {
			return fmt.Errorf("checkpoint %s: metadata key %q is reserved", path, k)
		}
		meta[k] = v
	}
	return atomicfile.Write(path, func(w io.Writer) error { return safetensors.Write(w, meta, tensors) })
}

// Load reads a checkpoint onto backend b. Every way a file can be wrong — unreadable, truncated,
// corrupt (tensor data that fails its checksum included), not ours, an invalid config, a missing, extra or mis-shaped tensor — is an error that
// names the file and, where there is one, the tensor. Tensors under "optim." (a trainer's
// optimizer state, saved beside the model) are left to the trainer.
func Load(path string, b core.Backend) (*Checkpoint, error) {
	raw, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return Decode(path, raw, b)
}

// Decode is Load for a file already in memory (an embedded model); name labels errors.
func Decode(name string, raw []byte, b core.Backend) (*Checkpoint, error) {
	f, err := safetensors.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return FromFile(name, f, b)
}

// FromFile builds a checkpoint from a parsed file (for callers that also read other tensors
// of the same file, such as a trainer's optimizer state).
func FromFile(name string, f *safetensors.File, b core.Backend) (*Checkpoint, error) {
	cfg, err := ConfigOf(name, f)
	if err != nil {
		return nil, err
	}
	shapes := cfg.Shapes()
	want := map[string]bool{}
	for _, s := range shapes {
		want[s.Name] = true
	}
	ts := make([]*core.Tensor, len(shapes))
	for i, s := range shapes {
		t, ok := f.Tensors[s.Name]
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: tensor %s is missing", name, s.Name)
		}
		if !reflect.DeepEqual(t.Shape, s.Shape) {
			return nil, fmt.Errorf("checkpoint %s: tensor %s has shape %v, the config needs %v", name, s.Name, t.Shape, s.Shape)
		}
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: tensor %s: %w", name, s.Name, err)
		}
		ts[i] = b.Alloc(core.F32, s.Shape...)
		b.Upload(ts[i], v)
	}
	for n := range f.Tensors {
		if !want[n] && !strings.HasPrefix(n, "optim.") {
			return nil, fmt.Errorf("checkpoint %s: unexpected tensor %s (not part of the model config)", name, n)
		}
	}
	return &Checkpoint{Config: cfg, Params: fromList(cfg, ts), Metadata: ExtraMetadata(f), DataChecked: f.Checked}, nil
}

// ExtraMetadata is a checkpoint file's metadata less the entries this package reserves.
func ExtraMetadata(f *safetensors.File) map[string]string {
	meta := map[string]string{}
	for k, v := range f.Metadata {
		if k != "format" && k != "config" && k != safetensors.ChecksumKey {
			meta[k] = v
		}
	}
	return meta
}

// ConfigOf checks a parsed file's format tag and decodes and validates its config.
func ConfigOf(name string, f *safetensors.File) (Config, error) {
	if got := f.Metadata["format"]; got != Format {
		return Config{}, fmt.Errorf("checkpoint %s: format %q, want %q (not a checkpoint of this project?)", name, got, Format)
	}
	var cfg Config
	dec := json.NewDecoder(strings.NewReader(f.Metadata["config"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("checkpoint %s: config record: %w", name, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("checkpoint %s: config: %w", name, err)
	}
	return cfg, nil
}

// Matches reports how c differs from want, naming each differing field (e.g. a checkpoint made
// for another vocabulary), or nil when they agree.
func (c Config) Matches(want Config) error {
	var diffs []string
	cv, wv := reflect.ValueOf(c), reflect.ValueOf(want)
	for i := 0; i < cv.NumField(); i++ {
		if !reflect.DeepEqual(cv.Field(i).Interface(), wv.Field(i).Interface()) {
			tag := strings.Split(cv.Type().Field(i).Tag.Get("json"), ",")[0]
			diffs = append(diffs, fmt.Sprintf("%s is %v, want %v", tag, cv.Field(i).Interface(), wv.Field(i).Interface()))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("config mismatch: %s", strings.Join(diffs, "; "))
}
