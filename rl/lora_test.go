package rl

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/task"
)

// loraBase saves a fresh model of smallConfig's architecture for its task, as a LoRA run's
// model.init.
func loraBase(t *testing.T) string { return saveBase(t, smallConfig("")) }

// saveBase saves a fresh model of c's architecture for its task, as a run's model.init.
func saveBase(t *testing.T, c Config) string {
	t.Helper()
	tk, err := task.ByName(c.Task.Name)
	if err != nil {
		t.Fatal(err)
	}
	mc := ModelConfigFor(c.Model, tk)
	b := cpu.New()
	p := model.NewParams(b, mc)
	p.Init(b, mc, 9)
	path := filepath.Join(t.TempDir(), "base.safetensors")
	if err := model.Save(path, b, mc, p, map[string]string{"task": tk.Name()}); err != nil {
		t.Fatal(err)
	}
	return path
}

// withLoRA makes a config a LoRA run on base, with a KL term for the RL methods so that the
// reference (the base, adapters off) takes part.
func withLoRA(base string) func(*Config) {
	return func(c *Config) {
		c.Model.Init = base
		c.Model.LoRA = model.LoRAConfig{R: 4, Alpha: 8, Targets: model.Modules}
		c.Train.LR = 1e-2
		if c.Train.Method != SFT {
			c.RL.Beta = 0.05
		}
	}
}

// TestLoRAResumeIsExact: a LoRA run interrupted after step 5 and resumed (the base reloaded from
// model.init, the adapters and their moments from the checkpoint) ends bit for bit where an
// uninterrupted one does, for SFT and both RL methods.
func TestLoRAResumeIsExact(t *testing.T) {
	base := loraBase(t)
	for _, method := range []string{"sft", "agrpo", "diffu-grpo"} {
		t.Run(method, func(t *testing.T) { testResume(t, method, withLoRA(base)) })
	}
}

// TestLoRATrainsAdaptersOnly: a LoRA run leaves every base weight as it was, moves the
// adapters, keeps optimizer moments for the adapters alone, writes a checkpoint without the base,
// a model.safetensors of merged weights and the adapters as PEFT saves them; its KL reference is
// the base itself, shared.
func TestLoRATrainsAdaptersOnly(t *testing.T) {
	base := loraBase(t)
	c := smallConfig(t.TempDir())
	c.Train.Method = methodNamed("agrpo")
	c.Train.Steps = 3
	c.RL.Prompts, c.RL.Group = 2, 4
	withLoRA(base)(&c)
	tr, err := NewRun(c, nil, cpu.New(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := tr.Model
	if ref := tr.rl.ref; ref == nil || ref.P != m.P || ref.LoRA != nil {
		t.Fatal("the KL reference is not the shared base with the adapters off")
	}
	before := encodeParams(m)
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, v := range encodeParams(m) {
		if !bytes.Equal(v, before[name]) {
			t.Errorf("base weight %s changed", name)
		}
	}
	adapters := 2 * (len(model.Modules)*m.Cfg.Layers + 1)
	if len(tr.Opt.M) != adapters || len(tr.Opt.V) != adapters || m.Grads != nil {
		t.Errorf("optimizer moments %d/%d, base gradients %v: want moments for the %d adapter tensors only", len(tr.Opt.M), len(tr.Opt.V), m.Grads != nil, adapters)
	}
	moved := false
	for _, x := range m.Trainables() {
		if strings.HasSuffix(x.Name, "lora_B.weight") {
			v := make([]float32, x.Param.Len())
			m.B.Download(x.Param, v)
			for _, f := range v {
				moved = moved || f != 0
			}
		}
	}
	if !moved {
		t.Error("every lora_B is still zero: the adapters did not train")
	}
	ck := readTensors(t, filepath.Join(c.Run.OutDir, "t", CheckpointFile))
	for name := range ck.Tensors {
		if !strings.Contains(name, ".lora_") {
			t.Errorf("checkpoint tensor %s is not an adapter or its optimizer state", name)
		}
	}
	if len(ck.Tensors) != 3*adapters {
		t.Errorf("checkpoint holds %d tensors, want %d (adapters and two moments each)", len(ck.Tensors), 3*adapters)
	}
	final, err := model.Load(filepath.Join(c.Run.OutDir, "t", ModelFile), cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	again, err := model.Load(base, m.B)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.New(m.B, again.Config, again.Params).LoadAdapter(filepath.Join(c.Run.OutDir, "t")); err != nil {
		t.Errorf("the run folder's PEFT adapter does not load: %v", err)
	}
	merged := encodeParams(model.New(m.B, m.Cfg, final.Params))
	if bytes.Equal(merged["model.transformer.ff_out.weight"], before["model.transformer.ff_out.weight"]) {
		t.Error("model.safetensors holds the base's head: the adapters were not merged")
	}
}

// encodeParams downloads every parameter of m's base as bytes, by name.
func encodeParams(m *model.Model) map[string][]byte {
	out := map[string][]byte{}
	for name, x := range m.P.Encode(m.B, m.Cfg) {
		out[name] = x.Data
	}
	return out
}

// TestLoRAConfigErrors: each bad [model.lora] value is refused naming its key and value, and
// LoRA without model.init is refused.
func TestLoRAConfigErrors(t *testing.T) {
	dir := t.TempDir()
	head := "[run]\nname = \"x\"\n[task]\nname = \"arithmetic\"\n[model]\ninit = \"arithmetic-base\"\n[model.lora]\n"
	for body, want := range map[string]string{
		head + "r = -2\n":                                                        "model.lora.r: -2",
		head + "r = 4\nalpha = 0\n":                                              "model.lora.alpha: 0",
		head + "r = 4\ndropout = 0.05\n":                                         "model.lora.dropout: 0.05",
		head + "r = 4\ntarget_modules = []\n":                                    "model.lora.target_modules: empty",
		head + "r = 4\ntarget_modules = [\"o_proj\"]\n":                          `model.lora.target_modules: "o_proj"`,
		strings.Replace(head, "init = \"arithmetic-base\"\n", "", 1) + "r = 4\n": "model.lora.r: 4: LoRA adapts a trained model",
	} {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", body, err, want)
		}
	}
}

// TestLoRAGSM8KConfig runs configs/llada-lora-gsm8k.toml as written on the test-sized LLaDA
// folder (its model.init replaced), with the step count, batch and evaluation cut down here: one
// LoRA AGRPO step with the official sampler and estimator settings, ending in a checkpoint of
// adapters and a merged model.
func TestLoRAGSM8KConfig(t *testing.T) {
	c, err := LoadConfig("../configs/llada-lora-gsm8k.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.LoRA.R != 64 || c.Model.LoRA.Alpha != 64 || len(c.Model.LoRA.Targets) != 7 || c.RL.Group != 8 {
		t.Fatalf("the config is not the official recipe: lora %+v, group %d", c.Model.LoRA, c.RL.Group)
	}
	c.Run.OutDir, c.Run.Device = t.TempDir(), "cpu"
	c.Model.Init = filepath.Join("..", "testdata", "hf", "llada-bpe-tiny")
	c.Train.Steps, c.RL.Prompts, c.RL.Group = 1, 1, 2
	c.Eval.N, c.Eval.BatchSize = 1, 1
	c.RL.MaxRows = 4 // AGRPO's update in chunks of 4 rows: the 24 Monte Carlo steps' logits, not all at once
	tr, err := NewRun(c, nil, cpu.New(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CheckpointFile, ModelFile, EvalFile} {
		if _, err := os.Stat(filepath.Join(c.Run.OutDir, c.Run.Name, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestLoRAChatConfigs: the Countdown and Sudoku variants of the GSM8K LoRA recipe load, differ
// from it only in the run name and the task, and their rollout settings fit their tasks.
func TestLoRAChatConfigs(t *testing.T) {
	gsm, err := LoadConfig("../configs/llada-lora-gsm8k.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"countdown", "sudoku"} {
		c, err := LoadConfig("../configs/llada-lora-" + v + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		if c.Task.Name != v+"_chat" || c.Run.Name != "llada-lora-"+v {
			t.Errorf("%s: task %q, run %q", v, c.Task.Name, c.Run.Name)
		}
		c.Task, c.Run.Name = gsm.Task, gsm.Run.Name
		a, _ := EncodeConfig(c)
		b, _ := EncodeConfig(gsm)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: other settings than the GSM8K recipe's:\n%s", v, a)
		}
		tk, err := task.ByName(v + "_chat")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRollouts(c.RL.Rollout, tk); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
}
