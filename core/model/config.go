// Package model is LLaDA's masked-diffusion transformer on a core.Backend: parameters with the
// Hugging Face checkpoint's names, the forward pass (tokens + key-padding mask → logits) and the
// backward pass (∂logits → parameter gradients), layer by layer, and safetensors checkpoints.
package model

import (
	"errors"
	"fmt"
)

// Config describes the architecture. JSON names follow LLaDA's Hugging Face config where it has one.
type Config struct {
	VocabSize int `json:"vocab_size"`
	DModel    int `json:"d_model"`
	Layers    int `json:"n_layers"`
	Heads     int `json:"n_heads"`
	// KVHeads is the number of key/value heads (grouped-query attention when below Heads);
	// 0, as in every checkpoint written before it existed, means Heads.
	KVHeads   int     `json:"n_kv_heads,omitempty"`
	MLPHidden int     `json:"mlp_hidden_size"`
	MaxSeqLen int     `json:"max_sequence_length"`
	RopeTheta float64 `json:"rope_theta"`
	NormEps   float64 `json:"rms_norm_eps"`
	MaskID    int     `json:"mask_token_id"`
	EOSID     int     `json:"eos_token_id"`
	PadID     int     `json:"pad_token_id"`
}

// HeadDim is the per-head width.
func (c Config) HeadDim() int { return c.DModel / c.Heads }

// KVHeadCount is the number of key/value heads: KVHeads, or Heads when that is 0.
func (c Config) KVHeadCount() int {
	if c.KVHeads == 0 {
		return c.Heads
	}
	return c.KVHeads
}

// KVDim is the width of the key and value projections, KVHeadCount·HeadDim.
func (c Config) KVDim() int { return c.KVHeadCount() * c.HeadDim() }

// Validate reports every inconsistency in the config, each naming its field.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d, must be positive", name, v))
		}
	}
	pos("vocab_size", c.VocabSize)
	pos("d_model", c.DModel)
	pos("n_layers", c.Layers)
	pos("n_heads", c.Heads)
	pos("mlp_hidden_size", c.MLPHidden)
	pos("max_sequence_length", c.MaxSeqLen)
	if c.Heads > 0 && c.DModel%c.Heads != 0 {
		errs = append(errs, fmt.Errorf("d_model %d is not divisible by n_heads %d", c.DModel, c.Heads))
	} else if c.Heads > 0 && c.HeadDim()%2 != 0 {
		errs = append(errs, fmt.Errorf("head size d_model/n_heads = %d must be even for RoPE", c.HeadDim()))
	}
	if c.KVHeads < 0 || (c.KVHeads > 0 && c.Heads > 0 && c.Heads%c.KVHeads != 0) {
		errs = append(errs, fmt.Errorf("n_kv_heads = %d must be positive and divide n_heads %d", c.KVHeads, c.Heads))
	}
	if !(c.RopeTheta > 0) {
		errs = append(errs, fmt.Errorf("rope_theta = %g, must be positive", c.RopeTheta))
	}
	if !(c.NormEps > 0) {
		errs = append(errs, fmt.Errorf("rms_norm_eps = %g, must be positive", c.NormEps))
	}
	for _, id := range []struct {
		name string
		v    int
	}{{"mask_token_id", c.MaskID}, {"eos_token_id", c.EOSID}, {"pad_token_id", c.PadID}} {
		if id.v < 0 || id.v >= c.VocabSize {
			errs = append(errs, fmt.Errorf("%s = %d outside the vocabulary [0, %d)", id.name, id.v, c.VocabSize))
		}
	}
	return errors.Join(errs...)
}

// NumParams is the number of scalar parameters.
func (c Config) NumParams() int {
	d, f, kv := c.DModel, c.MLPHidden, c.KVDim()
	perBlock := 2*d + 2*d*d + 2*kv*d + 3*d*f
	return 2*c.VocabSize*d + d + c.Layers*perBlock
}

// DemoConfig is the demo-size model that benchmarks time: d_model 128, 4 layers, 4 heads,
// MLP 384 (0.86 M parameters), with a 32-token vocabulary like the character-level tasks'.
func DemoConfig() Config {
	return Config{VocabSize: 32, DModel: 128, Layers: 4, Heads: 4, MLPHidden: 384, MaxSeqLen: 64,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: 31, EOSID: 30, PadID: 30}
}
