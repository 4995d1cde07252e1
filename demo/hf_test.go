package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/core/tokenizer"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
	"github.com/dllmrl/agrpo/core/vulkan"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// bpeFolder is the committed test-sized LLaDA folder with its own tokenizer: random BF16
// weights in two shards (tools/reference/llada_hf.py) and testdata/tokenizer/llada-bpe.
var bpeFolder = filepath.Join("..", "testdata", "hf", "llada-bpe-tiny")

var gsm8kExample = filepath.Join("..", "rl", "task", "testdata", "gsm8k-example.jsonl")

// samplePromptJSON runs sample -prompt -json and decodes its last line.
func samplePromptJSON(t *testing.T, args ...string) (sampleResult, string) {
	t.Helper()
	code, stdout, stderr := runDemo(append([]string{"sample", "-ckpt", bpeFolder, "-json"}, args...)...) // a later -ckpt wins
	if code != 0 {
		t.Fatalf("sample %v: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var r sampleResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return r, stdout
}

// TestSamplePrompt: sample -prompt renders the folder's chat template into the ids that
// transformers' apply_chat_template gives (testdata/tokenizer/golden.json), shows every step,
// and its completion ids decode, with the folder's tokenizer, to its completion text.
func TestSamplePrompt(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizer", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Chats []struct {
			Template            string
			Messages            []tokenizer.Message
			AddGenerationPrompt bool `json:"add_generation_prompt"`
			Rendered            string
			IDs                 []int32
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	tok, err := hf.Load(bpeFolder)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range g.Chats {
		if c.Template != "llada" || !c.AddGenerationPrompt || len(c.Messages) != 1 || c.Messages[0].Role != "user" {
			continue
		}
		r, stdout := samplePromptJSON(t, "-prompt", c.Messages[0].Content, "-length", "12", "-steps", "6", "-block", "6")
		if !slices.Equal(r.PromptIDs, c.IDs) || r.PromptText != c.Rendered {
			t.Errorf("%q: prompt %q %v, want %q %v", c.Messages[0].Content, r.PromptText, r.PromptIDs, c.Rendered, c.IDs)
		}
		if len(r.CompletionIDs) != 12 || r.Steps != 6 || r.BlockLength != 6 {
			t.Errorf("%d completion ids, %d steps, block %d; want 12, 6, 6", len(r.CompletionIDs), r.Steps, r.BlockLength)
		}
		end := len(r.CompletionIDs)
		if i := slices.Index(r.CompletionIDs, tok.Specials().EOS); i >= 0 {
			end = i
		}
		text, err := tok.Decode(r.CompletionIDs[:end])
		if err != nil || text != r.CompletionText || text == "" {
			t.Errorf("completion %v decodes to %q (%v), the command says %q", r.CompletionIDs, text, err, r.CompletionText)
		}
		for _, want := range []string{"start ", "step   1", "step   6", "answer "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no single-question golden conversation")
	}
}

// TestEvalFolderTokenizer: eval -task gsm8k on the folder scores the example test problems as
// a direct computation does: each problem's prompt through the folder's tokenizer and chat
// template, sampled alone, its completion decoded and rewarded.
func TestEvalFolderTokenizer(t *testing.T) {
	const steps = 4
	var got struct {
		N       int
		Results []rl.EvalResult
	}
	code, stdout, stderr := runDemo("eval", "-ckpt", bpeFolder, "-task", "gsm8k", "-data", gsm8kExample, "-steps", "4", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Results) != 1 {
		t.Fatalf("%v: %s", err, stdout)
	}
	b := cpu.New()
	ck, err := model.LoadDir(bpeFolder, b)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := hf.Load(bpeFolder)
	if err != nil {
		t.Fatal(err)
	}
	enc := task.Encoder{Tok: tok, Template: tok.ChatTemplate()}
	m := model.New(b, ck.Config, ck.Params)
	gsm, _ := task.ByName("gsm8k")
	f, err := os.Open(gsm8kExample)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := gsm.ParseJSONL(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var correct, reward float64
	parts := map[string]float64{}
	texts := make([]string, len(problems))
	for i, p := range problems {
		ids, mask, err := enc.Prompt(gsm, p)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := sampler.Generate(m, []sampler.Prompt{{Tokens: ids, Mask: mask}},
			sampler.Config{GenLength: gsm.AnswerLen(), Steps: steps, Remasking: core.LowConfidence}, nil)
		if err != nil {
			t.Fatal(err)
		}
		texts[i] = enc.Completion(tr.Completion(0))
		rw := gsm.Reward(p, texts[i])
		if rw.Correct {
			correct++
		}
		reward += rw.Total
		for k, v := range rw.Parts {
			parts[k] += v
		}
	}
	n := float64(len(problems))
	r := got.Results[0]
	if got.N != len(problems) || r.Steps != steps || r.Accuracy != correct/n || math.Abs(r.MeanReward-reward/n) > 1e-12 {
		t.Errorf("eval says n %d, %d steps, accuracy %g, mean reward %g; direct: n %d, accuracy %g, mean reward %g",
			got.N, r.Steps, r.Accuracy, r.MeanReward, len(problems), correct/n, reward/n)
	}
	for k, v := range parts {
		if math.Abs(r.Parts[k]-v/n) > 1e-12 {
			t.Errorf("reward part %s: eval %g, direct %g", k, r.Parts[k], v/n)
		}
	}
	// The completions behind those numbers are the direct ones, text for text.
	loaded, err := rl.LoadModel(bpeFolder, models.Shipped, b)
	if err != nil {
		t.Fatal(err)
	}
	_, comps, err := rl.Evaluate(m, gsm, problems, rl.EvalOptions{Steps: []int{steps}, Remasking: core.LowConfidence, Encoder: loaded.Encoder})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range comps[0] {
		if c.Text != texts[i] || c.Text == "" {
			t.Errorf("problem %d: Evaluate's completion %q, direct %q", i, c.Text, texts[i])
		}
	}
}

// gsmConfig writes a 2-step AGRPO config on gsm8k from model.init = the folder, on device.
func gsmConfig(t *testing.T, dir, device string) string {
	t.Helper()
	abs, err := filepath.Abs(bpeFolder)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gsm.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "gsm"
out_dir = "`+dir+`"
device = "`+device+`"
[task]
name = "gsm8k"
[model]
init = "`+abs+`"
[train]
method = "agrpo"
steps = 2
warmup_steps = 1
log_every = 1
[rl]
prompts_per_step = 1
group_size = 2
[rl.rollout]
steps = 8
[rl.agrpo]
mc_samples = 2
[eval]
n = 4
steps = [8]
`), 0o644)
	return cfg
}

// TestTrainFromFolderTokenizer: AGRPO on gsm8k from model.init = the folder runs 2 steps,
// evaluates, and the finished run resumes (its tokenizer found again through model.init).
func TestTrainFromFolderTokenizer(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runDemo("train", "-config", gsmConfig(t, dir, "cpu"))
	if code != 0 || !strings.Contains(stdout, "done") || !strings.Contains(stderr, "step 2/2") {
		t.Fatalf("train: exit %d: %s %s", code, stdout, stderr)
	}
	var ev struct {
		Step    int
		Task    string
		Results []rl.EvalResult
	}
	raw, err := os.ReadFile(filepath.Join(dir, "gsm", "eval.json"))
	if err != nil || json.Unmarshal(raw, &ev) != nil || ev.Step != 2 || ev.Task != "gsm8k" || len(ev.Results) != 1 || ev.Results[0].N != 4 {
		t.Errorf("eval.json: %v %s", err, raw)
	}
	if code, _, stderr := runDemo("train", "-resume", filepath.Join(dir, "gsm")); code != 0 {
		t.Errorf("resume: exit %d: %s", code, stderr)
	}
	// Exported, the run takes the starting folder's tokenizer files and answers with them.
	exp := filepath.Join(dir, "export")
	if code, stdout, stderr := runDemo("export", "-ckpt", filepath.Join(dir, "gsm"), "-out", exp); code != 0 || !strings.Contains(stdout, "tokenizer.json, tokenizer_config.json") {
		t.Fatalf("export: exit %d: %s %s", code, stdout, stderr)
	}
	r, _ := samplePromptJSON(t, "-ckpt", exp, "-prompt", "What is 2+2?", "-length", "8", "-steps", "4")
	if len(r.PromptIDs) == 0 || len(r.CompletionIDs) != 8 {
		t.Errorf("sample of the export: %+v", r)
	}
}

// TestFolderTokenizerRefusals: a folder whose tokenizer and config.json disagree is refused
// naming both files; chat tasks and -prompt are refused for models without their own tokenizer.
func TestFolderTokenizerRefusals(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.Mkdir(bad, 0o755)
	ents, err := os.ReadDir(bpeFolder)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(bpeFolder, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == model.HFConfigName {
			raw = []byte(strings.Replace(string(raw), `"mask_token_id": 3867`, `"mask_token_id": 3866`, 1))
		}
		os.WriteFile(filepath.Join(bad, e.Name()), raw, 0o644)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "-ckpt", bad, "-task", "gsm8k"},
			"the tokenizer (tokenizer.json, tokenizer_config.json) and config.json disagree: its mask id is 3867 (-1: none), mask_token_id is 3866"},
		{[]string{"eval", "-ckpt", filepath.Join("..", "testdata", "hf", "llada-tiny-bf16"), "-task", "gsm8k"},
			"models with the tasks' 22-token character vocabulary cannot run it"},
		{[]string{"sample", "-ckpt", "countdown-base", "-prompt", "hi"}, "-prompt needs a model folder with its own tokenizer and chat template"},
		{[]string{"sample", "-ckpt", bpeFolder, "-prompt", "hi", "-task", "gsm8k"}, "does not take -task"},
		{[]string{"sample", "-ckpt", "countdown-base", "-task", "countdown", "-json"}, "-json and -length go with -prompt"},
		{[]string{"sample", "-ckpt", bpeFolder, "-prompt", "hi", "-length", "1010"}, "over " + bpeFolder + "'s max_sequence_length 1024"},
		{[]string{"sample", "-ckpt", bpeFolder, "-prompt", "hi", "-length", "10", "-block", "3"}, "-length, -steps, -block"},
	} {
		code, _, stderr := runDemo(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestFolderTokenizerVulkan: sample -prompt and a gsm8k evaluation of the folder give on the
// Vulkan backend (lavapipe in CI) what they give on the CPU, and training from it runs there.
func TestFolderTokenizerVulkan(t *testing.T) {
	if _, err := vulkan.Devices(); err != nil {
		if os.Getenv("AGRPO_REQUIRE_VULKAN") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	samples, evals := map[string]sampleResult{}, map[string]string{}
	for _, dev := range []string{"cpu", "vulkan"} {
		samples[dev], _ = samplePromptJSON(t, "-prompt", "Add 17 and 25.", "-length", "16", "-steps", "8", "-device", dev)
		// 4 problems: the sampler's read-back is over 16 MiB, a one-off staging block on Vulkan.
		evals[dev] = evalResults(t, "eval", "-ckpt", bpeFolder, "-task", "gsm8k", "-data", gsm8kExample, "-n", "4", "-steps", "4", "-json", "-device", dev)
		// All 12 chat prompts in one batch of the default size: their logits, 159 MiB, would be
		// over lavapipe's 128 MiB storage binding range if the head did not run in chunks.
		evals[dev+" default batch"] = evalResults(t, "eval", "-ckpt", bpeFolder, "-task", "gsm8k", "-data", gsm8kExample, "-steps", "4", "-json", "-device", dev)
	}
	if evals["cpu default batch"] != evals["vulkan default batch"] {
		t.Errorf("eval, default batch: cpu %s, vulkan %s", evals["cpu default batch"], evals["vulkan default batch"])
	}
	if !slices.Equal(samples["cpu"].CompletionIDs, samples["vulkan"].CompletionIDs) {
		t.Errorf("sample: cpu %v, vulkan %v", samples["cpu"].CompletionIDs, samples["vulkan"].CompletionIDs)
	}
	if evals["cpu"] != evals["vulkan"] {
		t.Errorf("eval: cpu %s, vulkan %s", evals["cpu"], evals["vulkan"])
	}
	dir := t.TempDir()
	code, stdout, stderr := runDemo("train", "-config", gsmConfig(t, dir, "vulkan"))
	if code != 0 || !strings.Contains(stdout, "done") || !strings.Contains(stderr, "device: vulkan") {
		t.Fatalf("train on Vulkan: exit %d: %s %s", code, stdout, stderr)
	}
}

// bpeHeld is what the BF16 folder's weights take held as stored (2-D weights BF16, the norms
// widened) and widened, from the sizes in its shards' headers.
func bpeHeld(t *testing.T) (narrow, wide heldWeights) {
	t.Helper()
	set, err := safetensors.OpenSet(bpeFolder)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	narrow, wide = heldWeights{Tensors: map[string]int{}}, heldWeights{Tensors: map[string]int{}}
	for _, x := range set.Tensors {
		n := int64(len(x.Data) / 2) // BF16
		if len(x.Shape) == 2 {
			narrow.Tensors["BF16"]++
			narrow.Bytes += 2 * n
		} else {
			narrow.Tensors["F32"]++
			narrow.Bytes += 4 * n
		}
		wide.Tensors["F32"]++
		wide.Bytes += 4 * n
	}
	return narrow, wide
}

// compareWeights runs eval and sample -prompt on the BF16 folder on device with its weights
// held 16-bit (the default) and widened (-dtype f32): the same completions and evaluations, the
// 2-D weights held in BF16 by the first and float32 by the second, as the shards' headers size
// them.
func compareWeights(t *testing.T, device string) {
	narrow, wide := bpeHeld(t)
	want := map[string]heldWeights{"auto": narrow, "f32": wide}
	type outputs struct {
		samples []sampleResult
		evals   []string
	}
	got := map[string]outputs{}
	for _, dt := range []string{"auto", "f32"} {
		var o outputs
		// Greedy, and sampled (two completions of one problem: 2 rows each, as lavapipe is slow).
		for _, c := range []struct{ temp, n, samples string }{{"0", "2", "1"}, {"0.8", "1", "2"}} {
			r, _ := samplePromptJSON(t, "-prompt", "Add 17 and 25.", "-length", "16", "-steps", "8", "-temperature", c.temp, "-seed", "5", "-device", device, "-dtype", dt)
			if !reflect.DeepEqual(r.Weights, want[dt]) {
				t.Errorf("sample -dtype %s: weights held %v, want %v", dt, r.Weights, want[dt])
			}
			o.samples = append(o.samples, r)
			code, stdout, stderr := runDemo("eval", "-ckpt", bpeFolder, "-task", "gsm8k", "-data", gsm8kExample, "-n", c.n, "-steps", "4",
				"-temperature", c.temp, "-samples", c.samples, "-seed", "5", "-json", "-device", device, "-dtype", dt)
			if code != 0 {
				t.Fatalf("eval -dtype %s: exit %d: %s", dt, code, stderr)
			}
			var e struct {
				Weights heldWeights     `json:"weights"`
				Results json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal([]byte(stdout), &e); err != nil {
				t.Fatalf("eval -dtype %s: %v in %s", dt, err, stdout)
			}
			if !reflect.DeepEqual(e.Weights, want[dt]) {
				t.Errorf("eval -dtype %s: weights held %v, want %v", dt, e.Weights, want[dt])
			}
			o.evals = append(o.evals, string(e.Results))
		}
		got[dt] = o
	}
	for i, r := range got["auto"].samples {
		if w := got["f32"].samples[i]; !slices.Equal(r.CompletionIDs, w.CompletionIDs) || r.CompletionText != w.CompletionText {
			t.Errorf("sample (T = %g): 16-bit weights %v, widened %v", r.Temperature, r.CompletionIDs, w.CompletionIDs)
		}
		if got["auto"].evals[i] != got["f32"].evals[i] {
			t.Errorf("eval (T = %g): 16-bit weights %s, widened %s", r.Temperature, got["auto"].evals[i], got["f32"].evals[i])
		}
	}
}

// TestFolder16Bit: on the CPU, the folder's BF16 weights held 16-bit give exactly the
// completions and evaluations of the widened weights (the matmuls compute the same bits).
func TestFolder16Bit(t *testing.T) { compareWeights(t, "cpu") }

// TestFolder16BitVulkan is TestFolder16Bit on the Vulkan backend (lavapipe in CI): its 16-bit
// shader variants are within 1e-6 relative of the widened model (core/model's RunLoadDir16),
// and the completions, greedy and sampled, and evaluations come out the same.
func TestFolder16BitVulkan(t *testing.T) {
	if _, err := vulkan.Devices(); err != nil {
		if os.Getenv("AGRPO_REQUIRE_VULKAN") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	compareWeights(t, "vulkan")
}
