package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/atomicfile"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// HFConfigName is the architecture file of a Hugging Face model folder.
const HFConfigName = "config.json"

// hfReader decodes the keys of LLaDA's config.json one at a time, with the defaults of LLaDA's
// ModelConfig (configuration_llada.py) for absent keys, collecting every error.
type hfReader struct {
	raw  map[string]json.RawMessage
	seen map[string]bool
	errs []error
}

// hfGet decodes key into a T, or returns def when the key is absent (or null, for pointer Ts,
// which is how LLaDA writes an unset optional).
func hfGet[T any](r *hfReader, key string, def T) T {
	r.seen[key] = true
	msg, ok := r.raw[key]
	if !ok {
		return def
	}
	var v T
	if string(msg) == "null" && reflect.TypeOf(v) != nil && reflect.TypeOf(v).Kind() != reflect.Pointer {
		r.errs = append(r.errs, fmt.Errorf("%s = null, want a value", key))
		return def
	}
	if err := json.Unmarshal(msg, &v); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s = %s: %w", key, msg, err))
		return def
	}
	return v
}

// hfMust records an error when key's value (or its default, when absent) is not the one this
// engine computes: the model would be loaded but computed differently from LLaDA's code.
func hfMust[T comparable](r *hfReader, key string, def, want T, why string) {
	_, present := r.raw[key]
	if v := hfGet(r, key, def); v != want {
		absent := ""
		if !present {
			absent = " (LLaDA's default: the key is absent)"
		}
		r.errs = append(r.errs, fmt.Errorf("%s = %v%s is not supported: %s", key, jsonText(v), absent, why))
	}
}

// jsonText writes v as config.json would, for messages.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// hfIgnored are keys that do not change what the model computes here: provenance, training
// and initialisation settings, implementation switches (flash attention, RoPE precision: this
// engine computes in float32 throughout), and options that only matter with a feature that
// the must-keys below exclude (ALiBi's bias, QK-norm's affine).
var hfIgnored = []string{
	"architectures", "auto_map", "transformers_version", "torch_dtype", "precision", "use_cache",
	"init_device", "init_fn", "init_std", "init_cutoff_factor", "flash_attention",
	"rope_full_precision", "alibi_bias_max", "attention_layer_norm_with_affine",
	"bos_token_id", "tie_word_embeddings",
}

// ParseHFConfig reads LLaDA's config.json. Every key that changes the computation is either
// mapped to Config or checked to have the value this engine computes (LLaDA's llama block: RMS
// norms with weights and no biases, RoPE, SiLU-gated MLP, untied output head, no dropout);
// anything else, and any unknown key, is an error naming the key and its value. Absent keys
// take the defaults of LLaDA's ModelConfig, as LLaDA's own loader does.
func ParseHFConfig(raw []byte) (Config, error) {
	r := &hfReader{seen: map[string]bool{}}
	if err := json.Unmarshal(raw, &r.raw); err != nil {
		return Config{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if mt := hfGet(r, "model_type", "llada"); mt != "llada" {
		r.errs = append(r.errs, fmt.Errorf("model_type = %q is not supported: this engine runs LLaDA (\"llada\")", mt))
	}
	c := Config{
		DModel:    hfGet(r, "d_model", 768),
		Layers:    hfGet(r, "n_layers", 12),
		Heads:     hfGet(r, "n_heads", 12),
		MaxSeqLen: hfGet(r, "max_sequence_length", 1024),
		RopeTheta: hfGet(r, "rope_theta", 10000.0),
		NormEps:   hfGet(r, "rms_norm_eps", 1e-5),
		MaskID:    hfGet(r, "mask_token_id", 50256),
		EOSID:     hfGet(r, "eos_token_id", 50256),
		PadID:     hfGet(r, "pad_token_id", 50256),
	}
	// n_kv_heads, with multi_query_attention as LLaDA's effective_n_kv_heads reads them.
	kv := hfGet[*int](r, "n_kv_heads", nil)
	mqa := hfGet[*bool](r, "multi_query_attention", nil)
	switch {
	case kv == nil && mqa != nil && *mqa:
		c.KVHeads = 1
	case kv == nil:
		c.KVHeads = c.Heads
	case mqa != nil && *kv != map[bool]int{true: 1, false: c.Heads}[*mqa]:
		r.errs = append(r.errs, fmt.Errorf("n_kv_heads = %d contradicts multi_query_attention = %v", *kv, *mqa))
	default:
		c.KVHeads = *kv
	}
	if c.KVHeads == c.Heads {
		c.KVHeads = 0 // multi-head attention, written as checkpoints before n_kv_heads were
	}
	ratio := hfGet(r, "mlp_ratio", 4)
	if h := hfGet[*int](r, "mlp_hidden_size", nil); h != nil {
		c.MLPHidden = *h
	} else {
		c.MLPHidden = ratio * c.DModel
	}
	// The embedding table and the output head have embedding_size rows (vocab_size rounded up
	// for speed, in OLMo's lineage); the logits are that wide too.
	vocab := hfGet(r, "vocab_size", 50257)
	c.VocabSize = vocab
	if e := hfGet[*int](r, "embedding_size", ptr(50304)); e != nil {
		c.VocabSize = *e
		if *e < vocab {
			r.errs = append(r.errs, fmt.Errorf("embedding_size = %d is smaller than vocab_size = %d", *e, vocab))
		}
	}

	hfMust(r, "block_type", "sequential", "llama", `this engine computes LLaDA's "llama" block (separate q/k/v projections, SiLU(ff_proj)·up_proj)`)
	hfMust(r, "activation_type", "swiglu", "silu", `the llama block's gate here is "silu" (ff_proj gated, times up_proj)`)
	hfMust(r, "layer_norm_type", "default", "rms", `the norms here are RMSNorm ("rms")`)
	hfMust(r, "layer_norm_with_affine", true, true, "the norms here have weights")
	hfMust(r, "rope", false, true, "positions are encoded by RoPE here")
	hfMust(r, "alibi", false, false, "positions are encoded by RoPE here")
	hfMust(r, "yarn", false, false, "RoPE is not rescaled here")
	hfMust(r, "attention_layer_norm", false, false, "queries and keys are not normalised here")
	hfMust(r, "weight_tying", true, false, "the output head is its own tensor (model.transformer.ff_out.weight) here")
	hfMust(r, "include_bias", false, false, "the linear layers have no biases here")
	hfMust(r, "scale_logits", false, false, "the logits are not scaled here")
	hfMust(r, "input_emb_norm", false, false, "the embeddings are not scaled by √d_model here")
	hfMust(r, "block_group_size", 1, 1, "blocks are not grouped (their tensor names would change)")
	hfMust(r, "clip_qkv", (*float64)(nil), (*float64)(nil), "q, k and v are not clipped here")
	hfMust(r, "use_scheduler_head", false, false, "there is no scheduler head here")
	for _, k := range []string{"attention_dropout", "residual_dropout", "embedding_dropout"} {
		hfMust(r, k, 0.1, 0.0, "training here applies no dropout")
	}
	// Optional booleans (null means false, or include_bias for the norms, which must be false).
	if b := hfGet[*bool](r, "bias_for_layer_norm", nil); b != nil && *b {
		r.errs = append(r.errs, errors.New("bias_for_layer_norm = true is not supported: the norms here have no biases"))
	}
	if b := hfGet[*bool](r, "include_qkv_bias", nil); b != nil && *b {
		r.errs = append(r.errs, errors.New("include_qkv_bias = true is not supported: the q/k/v projections have no biases here"))
	}
	for _, k := range hfIgnored {
		r.seen[k] = true
	}
	var unknown []string
	for k := range r.raw {
		if !r.seen[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		r.errs = append(r.errs, fmt.Errorf("unknown key %s = %s: this loader does not know whether it changes the computation", k, r.raw[k]))
	}
	if err := c.Validate(); err != nil {
		r.errs = append(r.errs, err)
	}
	return c, errors.Join(r.errs...)
}

func ptr[T any](v T) *T { return &v }

// LoadDir loads a Hugging Face model folder in LLaDA's layout onto b: config.json (see
// ParseHFConfig), and model.safetensors or shards listed by model.safetensors.index.json,
// memory-mapped while they are read. Tensors may be BF16, F16 or F32; they are widened to
// float32 on load, one at a time, and each file is unmapped once its tensors are converted. Every damage (see safetensors.OpenSet) and every disagreement
// between the config and the tensors — a tensor missing, mis-shaped, of a non-float dtype, or
// not part of the model — is an error naming the file and the tensor.
func LoadDir(dir string, b core.Backend) (*Checkpoint, error) { return loadDir(dir, b, false) }

// LoadDir16 is LoadDir keeping every 2-D weight stored BF16 or F16 (the projections, the
// embedding and the head) in that dtype on the backend, which halves their memory: the CPU
// backend's matmuls and embedding widen them exactly as they read them, with float32
// arithmetic, so the model computes what LoadDir's does. The norms' weights (1-D, tiny) are
// widened (HeldDType says which dtype each tensor gets). The Vulkan backend reads them the same
// way in its 16-bit shader variants (within 1e-6 relative of the widened model). Such a model
// runs forward and backward (activation and float32 parameter gradients) but cannot be the
// optimizer's parameters, which are float32.
func LoadDir16(dir string, b core.Backend) (*Checkpoint, error) { return loadDir(dir, b, true) }

// HeldDType is the dtype LoadDir16 holds a tensor of this shape stored as dt in: a 2-D weight
// stored BF16 or F16 stays so (the matmuls and the embedding read it); anything else is widened
// to float32.
func HeldDType(dt safetensors.DType, shape []int) core.DType {
	if len(shape) == 2 {
		switch dt {
		case safetensors.BF16:
			return core.BF16
		case safetensors.F16:
			return core.F16
		}
	}
	return core.F32
}

func loadDir(dir string, b core.Backend, keep16 bool) (*Checkpoint, error) {
	cfgPath := filepath.Join(dir, HFConfigName)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("model folder %s: %w", dir, err)
	}
	cfg, err := ParseHFConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	set, err := safetensors.OpenSet(dir)
	if err != nil {
		return nil, err // it names the file and the tensor
	}
	defer set.Close()
	shapes := cfg.Shapes()
	want := map[string]bool{}
	for _, s := range shapes {
		want[s.Name] = true
	}
	var extra []string
	for n := range set.Tensors {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("%s: tensor %s is not part of the model %s describes", filepath.Join(dir, set.FileOf[extra[0]]), extra[0], HFConfigName)
	}
	// Check every tensor's header before allocating anything.
	for _, s := range shapes {
		t, ok := set.Tensors[s.Name]
		if !ok {
			where := safetensors.SingleName
			if _, err := os.Stat(filepath.Join(dir, safetensors.IndexName)); err == nil {
				where = safetensors.IndexName
			}
			return nil, fmt.Errorf("%s: tensor %s is missing (%s needs it)", filepath.Join(dir, where), s.Name, HFConfigName)
		}
		file := filepath.Join(dir, set.FileOf[s.Name])
		if !reflect.DeepEqual(t.Shape, s.Shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, %s needs %v", file, s.Name, t.Shape, HFConfigName, s.Shape)
		}
		if t.DType != safetensors.BF16 && t.DType != safetensors.F16 && t.DType != safetensors.F32 {
			return nil, fmt.Errorf("%s: tensor %s is %s, want BF16, F16 or F32", file, s.Name, t.DType)
		}
	}
	// Convert file by file through one buffer, releasing each file once read, so that the
	// peak is the float32 weights plus one file and one tensor, not twice the checkpoint.
	ts := make([]*core.Tensor, len(shapes))
	byFile := map[string][]int{}
	largest16, largest32 := 0, 0
	for i, s := range shapes {
		dt := core.F32
		if keep16 {
			dt = HeldDType(set.Tensors[s.Name].DType, s.Shape)
		}
		ts[i] = b.Alloc(dt, s.Shape...)
		if dt == core.F32 {
			largest32 = max(largest32, ts[i].Len())
		} else {
			largest16 = max(largest16, ts[i].Len())
		}
		byFile[set.FileOf[s.Name]] = append(byFile[set.FileOf[s.Name]], i)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	// Buffers allocated at first use, each for its own kind: loading 16-bit weights needs no
	// float32 buffer the size of the embedding, and reads them in place where it can.
	var buf []float32
	var buf16 []uint16
	for _, f := range files {
		for _, i := range byFile[f] {
			name := shapes[i].Name
			src := set.Tensors[name]
			if dt := ts[i].DType(); dt == core.BF16 || dt == core.F16 {
				if buf16 == nil { // untouched, so not resident, when the data is read in place
					buf16 = make([]uint16, largest16)
				}
				b.Upload16(ts[i], src.Bits16(buf16))
			} else {
				if buf == nil {
					buf = make([]float32, largest32)
				}
				v := buf[:ts[i].Len()]
				if err := src.DecodeFloat32(v); err != nil {
					for _, t := range ts {
						b.Free(t)
					}
					return nil, fmt.Errorf("%s: tensor %s: %w", filepath.Join(dir, f), name, err)
				}
				b.Upload(ts[i], v)
			}
			set.Drop(name) // its pages leave the resident set now, not when the file is released
		}
		if err := set.Release(f); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
		}
	}
	return &Checkpoint{Config: cfg, Params: fromList(cfg, ts), Metadata: map[string]string{"source": "huggingface"}}, nil
}

// HFConfigJSON is cfg as LLaDA's config.json: every key LLaDA-8B's config has, the fixed ones
// at the values this engine computes (so that ParseHFConfig reads back cfg exactly, and LLaDA's
// own code builds the same model).
func HFConfigJSON(cfg Config) ([]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	doc := map[string]any{
		"activation_type": "silu", "alibi": false, "alibi_bias_max": 8.0,
		"architectures": []string{"LLaDAModelLM"}, "attention_dropout": 0.0,
		"attention_layer_norm": false, "attention_layer_norm_with_affine": true,
		"auto_map": map[string]string{
			"AutoConfig":           "configuration_llada.LLaDAConfig",
			"AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
			"AutoModel":            "modeling_llada.LLaDAModelLM",
		},
		"bias_for_layer_norm": false, "block_group_size": 1, "block_type": "llama",
		"d_model": cfg.DModel, "embedding_dropout": 0.0, "embedding_size": cfg.VocabSize,
		"eos_token_id": cfg.EOSID, "flash_attention": false, "include_bias": false,
		"include_qkv_bias": false, "init_cutoff_factor": nil, "init_device": "meta",
		"init_fn": "mitchell", "init_std": 0.02, "input_emb_norm": false,
		"layer_norm_type": "rms", "layer_norm_with_affine": true, "mask_token_id": cfg.MaskID,
		"max_sequence_length": cfg.MaxSeqLen, "mlp_hidden_size": cfg.MLPHidden, "mlp_ratio": 4,
		"model_type": "llada", "multi_query_attention": nil, "n_heads": cfg.Heads,
		"n_kv_heads": cfg.KVHeadCount(), "n_layers": cfg.Layers, "pad_token_id": cfg.PadID,
		"precision": "amp_bf16", "residual_dropout": 0.0, "rms_norm_eps": cfg.NormEps,
		"rope": true, "rope_full_precision": true, "rope_theta": cfg.RopeTheta,
		"scale_logits": false, "use_cache": false, "vocab_size": cfg.VocabSize,
		"weight_tying": false,
	}
	return json.MarshalIndent(doc, "", "  ")
}

// SaveDir writes p as a Hugging Face folder in LLaDA's layout: config.json (HFConfigJSON) and
// the tensors in dtype (F32, or BF16 rounded to nearest even), in one model.safetensors when
// their data fit in shardBytes (or shardBytes ≤ 0), else in shards model-0000i-of-0000N with
// model.safetensors.index.json, as Hugging Face writes them. It writes no tokenizer files.
func SaveDir(dir string, b core.Backend, cfg Config, p *Params, dtype safetensors.DType, shardBytes int64) error {
	cj, err := HFConfigJSON(cfg)
	if err != nil {
		return fmt.Errorf("%s: config: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Shards in the parameters' order; a tensor larger than shardBytes gets a shard of its own.
	var shards []map[string]safetensors.Tensor
	var size, total int64
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		b.Download(n.Tensor, v)
		t := safetensors.FromFloat32As(dtype, v, n.Tensor.Shape()...)
		bytes := int64(len(t.Data))
		if len(shards) == 0 || (shardBytes > 0 && size > 0 && size+bytes > shardBytes) {
			shards = append(shards, map[string]safetensors.Tensor{})
			size = 0
		}
		shards[len(shards)-1][n.Name] = t
		size += bytes
		total += bytes
	}
	write := func(name string, tensors map[string]safetensors.Tensor) error {
		return atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
			return safetensors.Write(w, map[string]string{"format": "pt"}, tensors)
		})
	}
	if len(shards) == 1 {
		if err := write(safetensors.SingleName, shards[0]); err != nil {
			return err
		}
	} else {
		weightMap := map[string]string{}
		for i, sh := range shards {
			name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
			if err := write(name, sh); err != nil {
				return err
			}
			for n := range sh {
				weightMap[n] = name
			}
		}
		index, err := json.MarshalIndent(map[string]any{"metadata": map[string]int64{"total_size": total}, "weight_map": weightMap}, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, safetensors.IndexName), func(w io.Writer) error {
			_, err := w.Write(append(index, '\n'))
			return err
		}); err != nil {
			return err
		}
	}
	return atomicfile.Write(filepath.Join(dir, HFConfigName), func(w io.Writer) error {
		_, err := w.Write(append(cj, '\n'))
		return err
	})
}
