package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/vulkan"
)

func runDemo(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestUsageErrors: user mistakes exit 2 with a one-line reason and no stack trace.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"eval"},
		{"eval", "-ckpt", "countdown-base", "-task", "chess"},
		{"eval", "-ckpt", "countdown-base", "-task", "countdown", "-steps", "12,x"},
		{"eval", "-bogus"},
		{"train"},
		{"train", "-config", "a", "-resume", "b"},
		{"sample", "-ckpt", "countdown-base", "-task", "countdown", "-remasking", "best"},
		{"plot"},
		{"bench", "-time", "-1s"},
	} {
		code, _, stderr := runDemo(args...)
		if code != 2 || strings.Contains(stderr, "goroutine") || strings.TrimSpace(stderr) == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, _, _ := runDemo("eval", "-h"); code != 0 {
		t.Errorf("eval -h: exit %d", code)
	}
}

// TestEvalShippedModel evaluates the shipped Countdown base on a few test problems, as JSON.
func TestEvalShippedModel(t *testing.T) {
	code, stdout, stderr := runDemo("eval", "-ckpt", "countdown-base", "-task", "countdown", "-n", "20", "-steps", "12,3", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		N       int `json:"n"`
		Results []struct {
			Steps    int     `json:"steps"`
			Accuracy float64 `json:"accuracy"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if res.N != 20 || len(res.Results) != 2 || res.Results[0].Steps != 12 {
		t.Fatalf("unexpected result %+v", res)
	}
	// A missing checkpoint is a plain error (exit 1) that lists the shipped models.
	code, _, stderr = runDemo("eval", "-ckpt", "nope", "-task", "countdown")
	if code != 1 || !strings.Contains(stderr, "countdown-base") {
		t.Errorf("missing checkpoint: exit %d, %q", code, stderr)
	}
}

// TestEvalOwnData evaluates problems from a JSONL file; a malformed line is reported by number.
func TestEvalOwnData(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(`{"numbers":[3,7,12],"target":33}`+"\n"+`{"numbers":[2,5,10],"target":20}`+"\n"), 0o644)
	if code, stdout, stderr := runDemo("eval", "-ckpt", "countdown-base", "-task", "countdown", "-data", good, "-steps", "12"); code != 0 || !strings.Contains(stdout, "accuracy") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"numbers":[3,7,12],"target":33}`+"\n"+`{"numbers":[3,7],"target":"x"}`+"\n"), 0o644)
	if code, _, stderr := runDemo("eval", "-ckpt", "countdown-base", "-task", "countdown", "-data", bad); code != 1 || !strings.Contains(stderr, "line 2") {
		t.Errorf("bad data: exit %d, %q", code, stderr)
	}
}

// TestSampleShowsSteps: the terminal view prints every step and the verdict.
func TestSampleShowsSteps(t *testing.T) {
	code, stdout, stderr := runDemo("sample", "-ckpt", "countdown-base", "-task", "countdown", "-seed", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"prompt", "step   1", "step  12", "answer", "reward"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestTrainAndResume: a tiny config trains, and an existing run must be resumed, not restarted.
func TestTrainAndResume(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "tiny"
out_dir = "`+dir+`"
[task]
name = "arithmetic"
[model]
d_model = 16
n_layers = 1
n_heads = 2
mlp_hidden_size = 16
[train]
steps = 4
batch_size = 8
warmup_steps = 1
log_every = 2
[eval]
n = 4
steps = [7]
`), 0o644)
	if code, stdout, stderr := runDemo("train", "-config", cfg); code != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("train: exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"config.toml", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "eval.json", "curves.png"} {
		if _, err := os.Stat(filepath.Join(dir, "tiny", f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	if code, _, stderr := runDemo("train", "-config", cfg); code != 1 || !strings.Contains(stderr, "-resume") {
		t.Errorf("second start: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runDemo("train", "-resume", filepath.Join(dir, "tiny")); code != 0 {
		t.Errorf("resume of a finished run: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runDemo("plot", filepath.Join(dir, "tiny")); code != 0 || !strings.Contains(stdout, "curves.png") {
		t.Errorf("plot: exit %d", code)
	}
}

// TestStory runs the default flow at a tiny budget: it must evaluate, fine-tune, evaluate again,
// write the run folder and end with the before/after JSON line.
func TestStory(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runDemo("-task", "countdown", "-budget", "1", "-n", "8", "-out", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res storyResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the JSON table: %v\n%s", err, lines[len(lines)-1])
	}
	if res.Task != "countdown" || len(res.Results) != 2 || res.Results[0].Steps != 12 || res.Results[1].Steps != 3 || res.Results[0].N != 8 {
		t.Fatalf("table %+v", res)
	}
	for _, want := range []string{"device:", "AGRPO fine-tuning", "step 1/1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress output lacks %q", want)
		}
	}
	for _, want := range []string{"before:", "after:", "go run ./demo eval"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, f := range []string{"config.toml", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "curves.png"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
}

// TestVulkanDevice: eval and train run on the Vulkan backend with -device vulkan (lavapipe in
// CI), and a greedy evaluation there scores what it scores on the CPU.
func TestVulkanDevice(t *testing.T) {
	if _, err := vulkan.Devices(); err != nil {
		if os.Getenv("AGRPO_REQUIRE_VULKAN") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	evalArgs := []string{"eval", "-ckpt", "countdown-base", "-task", "countdown", "-n", "24", "-steps", "12,3", "-json"}
	results := map[string]string{}
	for _, dev := range []string{"cpu", "vulkan"} {
		code, stdout, stderr := runDemo(append(evalArgs, "-device", dev)...)
		if code != 0 {
			t.Fatalf("eval -device %s: exit %d: %s", dev, code, stderr)
		}
		var out struct {
			Results json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("eval -device %s: %v in %s", dev, err, stdout)
		}
		results[dev] = string(out.Results)
	}
	if results["cpu"] != results["vulkan"] {
		t.Errorf("greedy evaluation differs:\ncpu    %s\nvulkan %s", results["cpu"], results["vulkan"])
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "tiny"
out_dir = "`+dir+`"
device = "vulkan"
[task]
name = "countdown"
[model]
init = "countdown-base"
[train]
method = "agrpo"
steps = 1
[rl]
prompts_per_step = 2
group_size = 4
[eval]
n = 4
steps = [6]
`), 0o644)
	code, stdout, stderr := runDemo("train", "-config", cfg)
	if code != 0 || !strings.Contains(stdout, "done") || !strings.Contains(stdout+stderr, "vulkan") {
		t.Fatalf("train on run.device = vulkan: exit %d: %s %s", code, stdout, stderr)
	}
}
