package rl

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/task"
)

// TestModelEncoder: a folder with tokenizer.json brings that tokenizer and its chat template;
// anything else gets the character vocabulary; a tokenizer that does not fit config.json is
// refused naming both files and the ids that disagree.
func TestModelEncoder(t *testing.T) {
	hfDir := filepath.Join("..", "testdata", "hf")
	ck, err := LoadModel(filepath.Join(hfDir, "llada-bpe-tiny"), cpu.New())
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
