package model

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/safetensors"
)

// TestAdapterRoundTrip: SaveAdapter's folder loaded onto the same base gives the adapted
// model's logits bit for bit, and its adapter_config.json is PEFT's.
func TestAdapterRoundTrip(t *testing.T) {
	m, in := adaptedTestModel(t)
	b, cfg := m.B, m.Cfg
	want := download(b, m.Forward(in.tokens, in.keyMask))
	dir := t.TempDir()
	if err := SaveAdapter(dir, m, "base-folder"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"peft_type": "LORA"`, `"r": 3`, `"lora_alpha": 6`, `"base_model_name_or_path": "base-folder"`, `"ff_out"`} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("adapter_config.json lacks %s:\n%s", s, raw)
		}
	}
	back := New(b, cfg, m.P)
	if err := back.LoadAdapter(dir); err != nil {
		t.Fatal(err)
	}
	if got := download(b, back.Forward(in.tokens, in.keyMask)); !slices.Equal(got, want) {
		t.Error("the reloaded adapters give other logits")
	}
}

// TestLoadAdapterErrors: a missing, mis-shaped or extra tensor and a bad config are refused
// naming the file and the tensor or key.
func TestLoadAdapterErrors(t *testing.T) {
	m, _ := adaptedTestModel(t)
	b, cfg := m.B, m.Cfg
	good := t.TempDir()
	if err := SaveAdapter(good, m, ""); err != nil {
		t.Fatal(err)
	}
	a := "base_model.model.model.transformer.blocks.1.v_proj.lora_A.weight"
	for name, c := range map[string]struct {
		edit func(ts map[string]safetensors.Tensor)
		conf string
		want string
	}{
		"missing":    {edit: func(ts map[string]safetensors.Tensor) { delete(ts, a) }, want: a + " is missing"},
		"shape":      {edit: func(ts map[string]safetensors.Tensor) { ts[a] = safetensors.FromFloat32(make([]float32, 2*16), 2, 16) }, want: a + " has shape [2 16]"},
		"extra":      {edit: func(ts map[string]safetensors.Tensor) { ts["base_model.model.x.lora_A.weight"] = ts[a] }, want: "unexpected tensor base_model.model.x.lora_A.weight"},
		"rslora":     {conf: `{"peft_type":"LORA","r":3,"lora_alpha":6,"target_modules":["q_proj"],"use_rslora":true}`, want: "use_rslora"},
		"regex":      {conf: `{"peft_type":"LORA","r":3,"lora_alpha":6,"target_modules":".*proj"}`, want: "target_modules"},
		"not lora":   {conf: `{"peft_type":"IA3","r":3,"lora_alpha":6,"target_modules":["q_proj"]}`, want: `peft_type "IA3"`},
		"no alpha":   {conf: `{"peft_type":"LORA","r":3,"target_modules":["q_proj"]}`, want: "lora_alpha"},
		"dropout":    {conf: `{"peft_type":"LORA","r":3,"lora_alpha":6,"lora_dropout":0.1,"target_modules":["q_proj"]}`, want: "dropout: 0.1"},
		"bad module": {conf: `{"peft_type":"LORA","r":3,"lora_alpha":6,"target_modules":["o_proj"]}`, want: `"o_proj"`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			raw, _ := os.ReadFile(filepath.Join(good, AdapterWeightsFile))
			f, err := safetensors.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				c.edit(f.Tensors)
			}
			w, _ := os.Create(filepath.Join(dir, AdapterWeightsFile))
			if err := safetensors.Write(w, nil, f.Tensors); err != nil {
				t.Fatal(err)
			}
			w.Close()
			conf, _ := os.ReadFile(filepath.Join(good, AdapterConfigFile))
			if c.conf != "" {
				conf = []byte(c.conf)
			}
			os.WriteFile(filepath.Join(dir, AdapterConfigFile), conf, 0o644)
			err = New(b, cfg, m.P).LoadAdapter(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// FuzzParseAdapterConfig: any input is an error or a config that Validate accepts; never a panic.
func FuzzParseAdapterConfig(f *testing.F) {
	if raw, err := os.ReadFile(filepath.Join(hfDir, "lora-f32", AdapterConfigFile)); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`{"peft_type":"LORA","r":64,"lora_alpha":64,"target_modules":["q_proj","ff_out"]}`))
	f.Add([]byte(`{"peft_type":"LORA","r":null,"lora_alpha":1e309,"target_modules":"q"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := ParseAdapterConfig(raw)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Errorf("accepted %q, which does not validate: %v", raw, err)
		}
	})
}
