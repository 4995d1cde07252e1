package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
)

// TestExportAndInfo: a shipped model exported as a sharded F32 folder evaluates exactly as the
// shipped file; a folder's tokenizer files travel with it; info names the parameters and the
// stored dtypes; an -out that holds a model is refused.
func TestExportAndInfo(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "countdown-base-hf")
	if code, _, stderr := runDemo("export", "-ckpt", "countdown-base", "-out", hf, "-shard-mb", "1"); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	shards, _ := filepath.Glob(filepath.Join(hf, "model-*-of-*.safetensors"))
	if _, err := os.Stat(filepath.Join(hf, safetensors.IndexName)); err != nil || len(shards) < 2 {
		t.Fatalf("3.4 MB in shards of 1 MB: %d shards, index: %v", len(shards), err)
	}
	var outs []string
	for _, c := range []string{"countdown-base", hf} {
		outs = append(outs, evalResults(t, "eval", "-ckpt", c, "-task", "countdown", "-n", "16", "-steps", "12", "-json"))
	}
	if outs[0] != outs[1] {
		t.Errorf("the exported folder evaluates differently:\nfile   %s\nfolder %s", outs[0], outs[1])
	}

	// A run folder exports its model.safetensors.
	run := filepath.Join(dir, "run")
	raw, _ := models.Shipped.Bytes("countdown-base")
	os.MkdirAll(run, 0o755)
	os.WriteFile(filepath.Join(run, rl.ModelFile), raw, 0o644)
	fromRun := filepath.Join(dir, "from-run")
	if code, _, stderr := runDemo("export", "-ckpt", run, "-out", fromRun); code != 0 {
		t.Fatalf("export of a run folder: exit %d: %s", code, stderr)
	}
	if got := evalResults(t, "eval", "-ckpt", fromRun, "-task", "countdown", "-n", "16", "-steps", "12", "-json"); got != outs[0] {
		t.Errorf("the run folder's export evaluates differently:\nfile   %s\nfolder %s", outs[0], got)
	}

	// A Hugging Face folder with tokenizer files (whose vocabulary and special ids are its
	// config.json's, as loading checks), exported again in BF16.
	src := bpeFolder
	again := filepath.Join(dir, "again")
	code, stdout, stderr := runDemo("export", "-ckpt", src, "-out", again, "-dtype", "bf16")
	if code != 0 || !strings.Contains(stdout, "tokenizer.json, tokenizer_config.json") {
		t.Fatalf("export of a folder with a tokenizer: exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		want, _ := os.ReadFile(filepath.Join(src, f))
		if got, err := os.ReadFile(filepath.Join(again, f)); err != nil || string(got) != string(want) {
			t.Errorf("%s not carried over (%v)", f, err)
		}
	}

	// Loaded with its weights 16-bit, written in BF16: the source's tensors, byte for byte.
	a, err := safetensors.OpenSet(src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := safetensors.OpenSet(again)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for name, x := range a.Tensors {
		if y := b.Tensors[name]; y.DType != x.DType || !slices.Equal(y.Shape, x.Shape) || !bytes.Equal(y.Data, x.Data) {
			t.Errorf("%s: exported %s %v, source %s %v, or the data differ", name, y.DType, y.Shape, x.DType, x.Shape)
		}
	}

	ck, err := rl.LoadModel(again, models.Shipped, cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runDemo("info", "-ckpt", again)
	n := ck.Config.NumParams()
	narrow, wide := bpeHeld(t)
	if code != 0 || !strings.Contains(stdout, "parameters    "+strconv.Itoa(n)) || !strings.Contains(stdout, "BF16") ||
		!strings.Contains(stdout, "on "+strconv.Itoa(ck.Config.KVHeadCount())+" key/value heads") ||
		!strings.Contains(stdout, "weights "+narrow.String()+" as eval, sample and export hold them; "+bytesText(wide.Bytes)+" in float32") {
		t.Errorf("info: exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runDemo("export", "-ckpt", "countdown-base", "-out", hf); code != 2 || !strings.Contains(stderr, "already holds a model") {
		t.Errorf("export over a model: exit %d, %q", code, stderr)
	}
}
