package rl

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// TestModelEncoder: a folder with tokenizer.json brings that tokenizer and its chat template;
// anything else gets the character vocabulary; a tokenizer that does not fit config.json is
// refused naming both files and the ids that disagree.
func TestModelEncoder(t *testing.T) {
	hfDir := filepath.Join("..", "testdata", "hf")
	ck, err := LoadModel(filepath.Join(hfDir, "llada-bpe-tiny"), nil, cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	enc := ck.Encoder
	if _, chars := enc.Tok.(task.Chars); chars || enc.Template == nil || enc.Tok.VocabSize() != 3877 || enc.Tok.Specials().Mask != 3867 {
		t.Fatalf("folder encoder: %T, template %v", enc.Tok, enc.Template != nil)
	}
	gsm, _ := task.ByName("gsm8k")
	if err := CheckTask(ck, "folder", gsm, false); err != nil {
		t.Errorf("gsm8k on the folder: %v", err)
	}
	for _, path := range []string{"", "countdown-base", filepath.Join(hfDir, "llada-tiny-bf16"), filepath.Join(hfDir, "llada-tiny-f32", "model.safetensors")} {
		if e, err := ModelEncoder(path, ck.Config); err != nil || e != task.CharEncoder {
			t.Errorf("ModelEncoder(%q) = %v, %v; want the character vocabulary", path, e, err)
		}
	}
	good := ck.Config
	for _, c := range []struct {
		edit func(*model.Config)
		want string
	}{
		{func(c *model.Config) { c.VocabSize = 3876 }, "the tokenizer (tokenizer.json) and config.json disagree: it has 3877 tokens, embedding_size is 3876"},
		{func(c *model.Config) { c.MaskID = 3866 }, "its mask id is 3867 (-1: none), mask_token_id is 3866"},
		{func(c *model.Config) { c.EOSID = 3 }, "its EOS id is 3860 (-1: none), eos_token_id is 3"},
		{func(c *model.Config) { c.PadID = 3 }, "its pad id is 3860 (-1: none), pad_token_id is 3"},
	} {
		mc := good
		c.edit(&mc)
		_, err := ModelEncoder(filepath.Join(hfDir, "llada-bpe-tiny"), mc)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "llada-bpe-tiny: ") {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestModelsOnlyInTheCommand: of the module's packages only the command (demo) imports the
// embedded models, directly or not, so a program importing rl, core or wasm carries none of
// their megabytes. It asks `go list` for the import graph (tests' imports aside), for this
// platform and for the browser's (js/wasm).
func TestModelsOnlyInTheCommand(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	const module, embedded = "github.com/dllmrl/agrpo", "github.com/dllmrl/agrpo/rl/models"
	for _, env := range [][]string{{}, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command(goTool, "list", "-e", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/...")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", env, err)
		}
		var importers []string
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if slices.Contains(f[1:], embedded) {
				importers = append(importers, f[0])
			}
		}
		if want := []string{module + "/demo"}; !slices.Equal(importers, want) {
			t.Errorf("go list %v: %s is imported by %v, want %v alone", env, embedded, importers, want)
		}
	}
}

// TestLoadModelNames: a name is looked up in the catalog given, and without one only paths load.
func TestLoadModelNames(t *testing.T) {
	if _, err := LoadModel("countdown-base", models.Shipped, cpu.New()); err != nil {
		t.Fatalf("a shipped name with the shipped catalog: %v", err)
	}
	for _, tc := range []struct {
		name  string
		named Catalog
		want  string
	}{
		{"countdown-base", nil, `no checkpoint file "countdown-base" (and no model names are known here)`},
		{"no-such-model", models.Shipped, `no checkpoint file "no-such-model" and no shipped model of that name (shipped: arithmetic-base, countdown-agrpo,`},
	} {
		if _, err := LoadModel(tc.name, tc.named, cpu.New()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadModel(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// allocCounter is a backend that counts the bytes allocated per dtype.
type allocCounter struct {
	core.Backend
	bytes map[core.DType]int64
}

func (a *allocCounter) Alloc(dt core.DType, shape ...int) *core.Tensor {
	size := int64(4)
	if dt == core.BF16 || dt == core.F16 {
		size = 2
	}
	a.bytes[dt] += size * int64(core.NumElems(shape))
	return a.Backend.Alloc(dt, shape...)
}

// TestLoadModelWeights: AsStored holds the 2-D weights of a BF16 folder in BF16 — the tensors'
// dtype and the bytes the backend allocates, against the sizes read from the shards' headers —
// and Float32 widens them; files of this project and shipped models are float32 either way.
func TestLoadModelWeights(t *testing.T) {
	dir := filepath.Join("..", "testdata", "hf", "llada-bpe-tiny")
	set, err := safetensors.OpenSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	var bf16, f32, elems int64 // from the headers: 2-D BF16 bytes as stored, 1-D ones widened
	for _, x := range set.Tensors {
		if x.DType != safetensors.BF16 {
			t.Fatalf("the fixture's tensors should all be BF16, one is %s", x.DType)
		}
		n := int64(len(x.Data) / 2)
		elems += n
		if len(x.Shape) == 2 {
			bf16 += 2 * n
		} else {
			f32 += 4 * n
		}
	}
	set.Close()
	for _, c := range []struct {
		w    Weights
		want map[core.DType]int64
	}{
		{AsStored, map[core.DType]int64{core.BF16: bf16, core.F32: f32}},
		{Float32, map[core.DType]int64{core.F32: 4 * elems}},
	} {
		b := &allocCounter{cpu.New(), map[core.DType]int64{}}
		ck, err := LoadModelAs(dir, nil, b, c.w)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(b.bytes, c.want) {
			t.Errorf("%v: allocated %v bytes per dtype, want %v", c.w, b.bytes, c.want)
		}
		for _, n := range ck.Params.List(ck.Config) {
			want := core.F32
			if c.w == AsStored && n.Tensor.Rank() == 2 {
				want = core.BF16
			}
			if n.Tensor.DType() != want {
				t.Errorf("%v: %s is %v, want %v", c.w, n.Name, n.Tensor.DType(), want)
			}
		}
	}
	for _, src := range []string{"countdown-base", filepath.Join("..", "testdata", "hf", "llada-tiny-f32")} {
		ck, err := LoadModelAs(src, models.Shipped, cpu.New(), AsStored)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ck.Params.List(ck.Config) {
			if n.Tensor.DType() != core.F32 {
				t.Errorf("%s: %s is %v, want F32", src, n.Name, n.Tensor.DType())
			}
		}
	}
}

// TestDataNote: a checkpoint file without a data checksum gets the note; a checked file, a
// Hugging Face folder (a format without checksums) and a shipped name get none.
func TestDataNote(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "old.safetensors")
	os.WriteFile(file, []byte("x"), 0o644)
	if note := DataNote(file, &model.Checkpoint{}); !strings.Contains(note, "carries no checksum") {
		t.Errorf("unchecked file: note %q", note)
	}
	for _, c := range []struct {
		path    string
		checked bool
	}{{file, true}, {dir, false}, {"sudoku-base", false}} {
		if note := DataNote(c.path, &model.Checkpoint{DataChecked: c.checked}); note != "" {
			t.Errorf("%s (checked %v): note %q, want none", c.path, c.checked, note)
		}
	}
}
