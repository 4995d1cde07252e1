package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planJSON runs demo plan -json with args and decodes its object.
func planJSON(t *testing.T, args ...string) planReport {
	t.Helper()
	code, out, errOut := runDemo(append([]string{"plan", "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("demo plan %v: exit %d: %s", args, code, errOut)
	}
	var r planReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("demo plan %v -json: %v\n%s", args, err, out)
	}
	return r
}

// TestPlanLoRAFolder: the plan of the shipped LoRA recipe on the test-sized LLaDA folder holds
// its BF16 base as the shards' headers size it, r = 64 adapters on the 7 modules of each block
// and the head counted by hand from the architecture, a gradient and two moments per adapter parameter, and
// a total that is the sum of its parts; the text output prints every part.
func TestPlanLoRAFolder(t *testing.T) {
	args := []string{"-config", "../configs/llada-lora-gsm8k.toml", "-ckpt", bpeFolder, "-device", "cpu"}
	r := planJSON(t, args...)
	narrow, wide := bpeHeld(t)
	if r.Weights != float64(narrow.Bytes) {
		t.Errorf("weights %.0f bytes, the folder's 2-D weights in BF16 and the rest in float32 take %d", r.Weights, narrow.Bytes)
	}
	if r.Merged != float64(wide.Bytes) {
		t.Errorf("merged model %.0f bytes, the folder's weights in float32 take %d", r.Merged, wide.Bytes)
	}
	// llada-bpe-tiny: 2 blocks, d_model 16, one key/value head of 8, MLP 32, 3880 tokens; r = 64.
	// PEFT's "ff_out" also names LLaDA's output head, model.transformer.ff_out [V, D].
	d, kv, f, v, layers, rank := 16.0, 8.0, 32.0, 3880.0, 2.0, 64.0
	perBlock := (d + d) + 2*(kv+d) + (d + d) + 2*(f+d) + (d + f) // q, k, v, attn_out, ff_proj, up_proj, ff_out
	if want := 4 * rank * (layers*perBlock + v + d); r.Adapters != want {
		t.Errorf("adapters %.0f bytes, want %.0f", r.Adapters, want)
	}
	if r.Moments != 2*r.Adapters || r.Gradients != r.Adapters+4*d {
		t.Errorf("moments %.0f, gradients %.0f bytes for adapters of %.0f", r.Moments, r.Gradients, r.Adapters)
	}
	sum := r.Weights + r.Adapters + r.Gradients + r.Moments + r.Reference + r.Activations + r.Buffers + r.Merged
	if r.Total != sum || r.Activations <= 0 || r.Buffers <= 0 {
		t.Errorf("total %.0f, parts %+v", r.Total, r.MemoryPlan)
	}
	if r.DeviceBytes > 0 && r.Fits != (r.Total <= float64(r.DeviceBytes)) {
		t.Errorf("fits = %v for %.0f bytes on %d", r.Fits, r.Total, r.DeviceBytes)
	}
	code, out, errOut := runDemo(append([]string{"plan"}, args...)...)
	if code != 0 {
		t.Fatalf("demo plan: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"agrpo gsm8k on " + bpeFolder, "weights                  251.8 KiB", "adapters ", "gradients ",
		"optimizer moments ", "KL reference weights ", "activations ", "per-step buffers ", "merged model at the end ", "total ", "device cpu"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo plan's output lacks %q:\n%s", want, out)
		}
	}
}

// TestPlanRefuses: a config whose batch cannot fit gets "does not fit" naming the setting to
// lower, as train's refusal; a shipped config from scratch has no adapters and fits.
func TestPlanRefuses(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "huge.toml")
	if err := os.WriteFile(cfg, []byte("[run]\nname = \"huge\"\n[task]\nname = \"arithmetic\"\n[train]\nbatch_size = 100000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := planJSON(t, "-config", cfg, "-device", "cpu")
	if r.DeviceBytes == 0 {
		t.Skip("the machine's free memory is unknown here")
	}
	if r.Fits || !strings.Contains(r.Refusal, "lower train.batch_size") {
		t.Errorf("a batch of 10⁸: fits %v, refusal %q", r.Fits, r.Refusal)
	}
	code, out, _ := runDemo("plan", "-config", cfg, "-device", "cpu")
	if code != 0 || !strings.Contains(out, "the run does not fit: this run needs about") || !strings.Contains(out, "lower train.batch_size") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	r = planJSON(t, "-config", "../configs/countdown-agrpo.toml", "-device", "cpu")
	if r.Adapters != 0 || r.Merged != 0 || r.Weights <= 0 || !r.Fits {
		t.Errorf("countdown-agrpo: %+v", r)
	}
}
