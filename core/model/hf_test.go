package model

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/half"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// copyHF copies a fixture folder into a temporary one that a test may damage.
func copyHF(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(hfDir, name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editJSON rewrites the JSON object in file path through f.
func editJSON(t *testing.T, path string, f func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	f(doc)
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editConfig rewrites dir's config.json through f.
func editConfig(t *testing.T, dir string, f func(map[string]any)) {
	t.Helper()
	editJSON(t, filepath.Join(dir, HFConfigName), f)
}

// editIndex rewrites dir's shard index through f.
func editIndex(t *testing.T, dir string, f func(map[string]any)) {
	t.Helper()
	editJSON(t, filepath.Join(dir, safetensors.IndexName), f)
}

// rewriteShard replaces a shard's tensors through f (which may add, drop or change them).
func rewriteShard(t *testing.T, path string, f func(map[string]safetensors.Tensor)) {
	t.Helper()
	sf, err := safetensors.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]safetensors.Tensor{}
	for n, x := range sf.Tensors {
		ts[n] = safetensors.Tensor{DType: x.DType, Shape: x.Shape, Data: bytes.Clone(x.Data)}
	}
	sf.Close()
	f(ts)
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, nil, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadDirConfig checks that the fixture's config.json (every key of LLaDA-8B's) maps to the
// architecture it describes.
func TestLoadDirConfig(t *testing.T) {
	ck, err := LoadDir(filepath.Join(hfDir, "llada-tiny-bf16"), cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{VocabSize: 384, DModel: 32, Layers: 2, Heads: 4, KVHeads: 2, MLPHidden: 48, MaxSeqLen: 64,
		RopeTheta: 500000, NormEps: 1e-5, MaskID: 379, EOSID: 378, PadID: 378}
	if err := ck.Config.Matches(want); err != nil {
		t.Fatal(err)
	}
}

// TestLoadDirDamage checks that every way a folder can be wrong is an error naming the file and,
// where there is one, the tensor or the config key and its value.
func TestLoadDirDamage(t *testing.T) {
	const s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	const q0 = "model.transformer.blocks.0.q_proj.weight"
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string
	}{
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, s2)) }, []string{s2, "shard of tensor model.transformer.blocks.1."}},
		{"truncated shard", func(t *testing.T, dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, s1))
			os.WriteFile(filepath.Join(dir, s1), raw[:len(raw)-100], 0o644)
		}, []string{s1, "truncated"}},
		{"index names an absent tensor", func(t *testing.T, dir string) {
			rewriteShard(t, filepath.Join(dir, s1), func(ts map[string]safetensors.Tensor) { delete(ts, q0) })
		}, []string{s1, q0, "does not hold it"}},
		{"tensor missing from the folder", func(t *testing.T, dir string) {
			rewriteShard(t, filepath.Join(dir, s1), func(ts map[string]safetensors.Tensor) { delete(ts, q0) })
			editIndex(t, dir, func(idx map[string]any) {
				delete(idx["weight_map"].(map[string]any), q0)
				delete(idx, "metadata")
			})
		}, []string{safetensors.IndexName, q0, "missing"}},
		{"wrong shape", func(t *testing.T, dir string) {
			rewriteShard(t, filepath.Join(dir, s1), func(ts map[string]safetensors.Tensor) {
				x := ts[q0]
				ts[q0] = safetensors.Tensor{DType: safetensors.I32, Shape: []int{x.Shape[0], x.Shape[1] / 2}, Data: x.Data}
			})
		}, []string{s1, q0, "shape [32 16]"}},
		{"integer tensor", func(t *testing.T, dir string) {
			rewriteShard(t, filepath.Join(dir, s1), func(ts map[string]safetensors.Tensor) {
				x := ts[q0]
				ts[q0] = safetensors.Tensor{DType: safetensors.I32, Shape: x.Shape, Data: append(bytes.Clone(x.Data), x.Data...)}
			})
			editIndex(t, dir, func(idx map[string]any) { delete(idx, "metadata") })
		}, []string{s1, q0, "is I32, want BF16, F16 or F32"}},
		{"index total size lies", func(t *testing.T, dir string) {
			editIndex(t, dir, func(idx map[string]any) { idx["metadata"] = map[string]any{"total_size": 5} })
		}, []string{safetensors.IndexName, "total_size is 5"}},
		{"config and tensors disagree", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["n_kv_heads"] = 4 })
		}, []string{s1, "k_proj.weight", "shape [16 32]", "needs [32 32]"}},
		{"tensor the config does not know", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["n_layers"] = 1 })
		}, []string{"model.transformer.blocks.1.", "not part of the model config.json describes"}},
		{"unsupported key", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["weight_tying"] = true })
		}, []string{HFConfigName, "weight_tying = true is not supported"}},
		{"absent key with an unsupported default", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { delete(c, "rope") })
		}, []string{HFConfigName, "rope = false (LLaDA's default: the key is absent) is not supported"}},
		{"unknown key", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["sliding_window"] = 128 })
		}, []string{HFConfigName, "unknown key sliding_window = 128"}},
		{"bad value", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["d_model"] = "wide" })
		}, []string{HFConfigName, `d_model = "wide"`}},
		{"multi-query attention against n_kv_heads", func(t *testing.T, dir string) {
			editConfig(t, dir, func(c map[string]any) { c["multi_query_attention"] = true })
		}, []string{HFConfigName, "n_kv_heads = 2 contradicts multi_query_attention = true"}},
		{"no config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, HFConfigName)) }, []string{HFConfigName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyHF(t, "llada-tiny-bf16")
			c.damage(t, dir)
			_, err := LoadDir(dir, cpu.New())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestParseHFConfigKeys checks the keys that change the computation, one at a time: each
// unsupported value is named with its value, and the supported alternatives map as LLaDA's
// code reads them (multi_query_attention without n_kv_heads, mlp_ratio without
// mlp_hidden_size, a null embedding_size).
func TestParseHFConfigKeys(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(hfDir, "llada-tiny-f32", HFConfigName))
	if err != nil {
		t.Fatal(err)
	}
	parse := func(edit func(map[string]any)) (Config, error) {
		var c map[string]any
		json.Unmarshal(raw, &c)
		edit(c)
		b, _ := json.Marshal(c)
		return ParseHFConfig(b)
	}
	for key, val := range map[string]any{
		"activation_type": "swiglu", "block_type": "sequential", "layer_norm_type": "gemma_rms",
		"layer_norm_with_affine": false, "alibi": true, "attention_layer_norm": true, "include_bias": true,
		"include_qkv_bias": true, "bias_for_layer_norm": true, "scale_logits": true, "input_emb_norm": true,
		"block_group_size": 2, "clip_qkv": 8.0, "attention_dropout": 0.1, "residual_dropout": 0.1,
		"embedding_dropout": 0.1, "model_type": "llada_moe", "yarn": true,
	} {
		_, err := parse(func(c map[string]any) { c[key] = val })
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), jsonText(val)) {
			t.Errorf("%s = %v: error %v, want one naming the key and value", key, val, err)
		}
	}
	c, err := parse(func(c map[string]any) {
		c["n_kv_heads"], c["multi_query_attention"] = nil, true
		c["mlp_hidden_size"], c["mlp_ratio"] = nil, 2
		c["embedding_size"] = nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.KVHeadCount() != 1 || c.MLPHidden != 64 || c.VocabSize != 380 {
		t.Errorf("got %d key/value heads, MLP %d, vocabulary %d; want 1, 64, 380", c.KVHeadCount(), c.MLPHidden, c.VocabSize)
	}
	if c, err = parse(func(c map[string]any) { c["n_kv_heads"] = nil }); err != nil || c.KVHeads != 0 || c.KVHeadCount() != 4 {
		t.Errorf("n_kv_heads null: %+v, %v; want multi-head attention", c, err)
	}
}

// FuzzParseHFConfig feeds arbitrary text to the config parser: an error or a valid config,
// never a panic.
func FuzzParseHFConfig(f *testing.F) {
	raw, _ := os.ReadFile(filepath.Join(hfDir, "llada-tiny-bf16", HFConfigName))
	f.Add(raw)
	f.Add([]byte(`{"n_kv_heads": 0, "multi_query_attention": false}`))
	f.Add([]byte(`{"n_heads": 3, "n_kv_heads": 2, "rope": true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseHFConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
	})
}

// TestSaveDirRoundTrip writes a grouped-query model as a folder and loads it back: the same
// config and, in F32, the same parameters bit for bit; in BF16, each value rounded to nearest
// even (checked against safetensors' rounding, itself tested against float64).
func TestSaveDirRoundTrip(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	cfg.Heads, cfg.KVHeads = 4, 2
	m := randomModel(t, b, cfg, 5)
	for _, c := range []struct {
		dt     safetensors.DType
		shard  int64
		shards int // files written: 1 is model.safetensors, more come with an index
	}{{safetensors.F32, 0, 1}, {safetensors.BF16, 0, 1}, {safetensors.F32, 4096, -1}, {safetensors.BF16, 1, -1}} {
		dt := c.dt
		dir := filepath.Join(t.TempDir(), "out")
		if err := SaveDir(dir, b, cfg, m.P, dt, c.shard); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "model*.safetensors"))
		_, indexErr := os.Stat(filepath.Join(dir, safetensors.IndexName))
		switch {
		case c.shards == 1 && (len(files) != 1 || indexErr == nil):
			t.Fatalf("%s unsharded: files %v, index %v", dt, files, indexErr)
		case c.shards < 0 && (len(files) < 2 || indexErr != nil):
			t.Fatalf("%s in shards of %d bytes: files %v, index %v", dt, c.shard, files, indexErr)
		case c.shard == 1 && len(files) != len(m.P.List(cfg)):
			t.Fatalf("shards of 1 byte: %d files for %d tensors", len(files), len(m.P.List(cfg)))
		}
		ck, err := LoadDir(dir, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ck.Config.Matches(cfg); err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		got, want := ck.Params.List(cfg), m.P.List(cfg)
		for i := range got {
			g, w := make([]float32, got[i].Tensor.Len()), make([]float32, want[i].Tensor.Len())
			b.Download(got[i].Tensor, g)
			b.Download(want[i].Tensor, w)
			for j := range w {
				if dt == safetensors.BF16 {
					w[j] = half.BF16ToFloat32(half.Float32ToBF16(w[j]))
				}
				if g[j] != w[j] {
					t.Fatalf("%s: %s[%d] = %g, want %g", dt, got[i].Name, j, g[j], w[j])
				}
			}
		}
	}
}
