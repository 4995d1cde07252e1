package rl

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConfigChoices: every choice of a config file is parsed by its type, and the bad ones are
// all reported at once with the ranges, each naming its key, its value and the allowed values.
func TestConfigChoices(t *testing.T) {
	body := `[run]
name = "x"
[task]
name = "countdown"
[train]
method = "ppo"
schedule = "linear"
steps = -1
[rl.rollout]
remasking = "left_to_right"
confidence = "calibrated"
[rl.agrpo]
importance_sampling = "reward"
scaling = "max"
likelihood = "approximate"
[eval]
remasking = "best"
`
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`train.method: unknown method "ppo" (want sft, agrpo or diffu-grpo)`,
		`train.schedule: unknown schedule "linear" (want constant or cosine)`,
		`rl.rollout.remasking: unknown remasking "left_to_right" (want low_confidence, random or entropy)`,
		`rl.rollout.confidence: unknown confidence "calibrated" (want tempered or untempered)`,
		`rl.agrpo.importance_sampling: unknown importance_sampling "reward" (want uniform or entropy)`,
		`rl.agrpo.scaling: unknown scaling "max" (want mean or sum)`,
		`rl.agrpo.likelihood: unknown likelihood "approximate" (want exact or tokens)`,
		`eval.remasking: unknown remasking "best" (want low_confidence, random or entropy)`,
		`train.steps: -1, must be positive`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestConfigFileRoundTrip: every shipped config loads, and the file a run writes of it
// (EncodeConfig, the run folder's config.toml) reads back to the same config.
func TestConfigFileRoundTrip(t *testing.T) {
	paths, err := filepath.Glob("../configs/*.toml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped configs (%v)", err)
	}
	for _, p := range paths {
		c, err := LoadConfig(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		raw, err := EncodeConfig(c)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		back := DefaultConfig()
		if err := DecodeConfig(p+" (encoded)", raw, &back); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// An empty list reads back as an empty, not a nil, slice: compare what the two write.
		again, err := EncodeConfig(back)
		if err != nil || !bytes.Equal(again, raw) || back.Train.Method != c.Train.Method || back.RL.Rollout.Remasking != c.RL.Rollout.Remasking {
			t.Errorf("%s: read back as\n%s\nwant\n%s", p, again, raw)
		}
	}
}

// TestREADMEKeys: configs/README.md's key table documents exactly the keys a config file has,
// the [rl.<name>] section of every registered estimator included, so that an estimator's new
// keys are documented where users look.
func TestREADMEKeys(t *testing.T) {
	raw, err := os.ReadFile("../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(raw), "## Keys")
	documented := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`") {
			continue
		}
		// `rl.agrpo.epsilon_low`, `epsilon_high`: the later keys are in the first one's section.
		var section string
		for i, k := range strings.Split(cells[1], ",") {
			k = strings.Trim(strings.TrimSpace(k), "`")
			if i == 0 {
				section = k[:strings.LastIndex(k, ".")+1]
			} else {
				k = section + k
			}
			documented[k] = true
		}
	}
	keys := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if key := tomlKey(f); key != "-" {
				if f.Type.Kind() == reflect.Struct {
					walk(prefix+key+".", f.Type)
				} else {
					keys[prefix+key] = true
				}
			}
		}
	}
	walk("", configFileType())
	for k := range keys {
		if !documented[k] {
			t.Errorf("key %s is not in configs/README.md's table", k)
		}
	}
	for k := range documented {
		if !keys[k] {
			t.Errorf("configs/README.md documents %s, which no config has", k)
		}
	}
	if !keys["rl.agrpo.mc_samples"] || !keys["rl.diffu_grpo.epsilon"] {
		t.Errorf("the estimators' sections are missing from %v", keys)
	}
}

// FuzzDecodeConfig: any text decodes to a config or an error, never a panic, and a config
// that decodes writes a file that decodes to the same file again.
func FuzzDecodeConfig(f *testing.F) {
	paths, _ := filepath.Glob("../configs/*.toml")
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("[train]\nmethod = \"ppo\"\n[rl.agrpo]\nscaling = 3\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := DefaultConfig()
		if DecodeConfig("fuzz.toml", raw, &c) != nil {
			return
		}
		enc, err := EncodeConfig(c)
		if err != nil {
			t.Fatalf("a decoded config does not encode: %v", err)
		}
		back := DefaultConfig()
		if err := DecodeConfig("encoded.toml", enc, &back); err != nil {
			t.Fatalf("the encoded config does not decode: %v\n%s", err, enc)
		}
		if again, err := EncodeConfig(back); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("encoded twice differently (%v):\n%s\n---\n%s", err, enc, again)
		}
	})
}
