package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

// dataDir holds the test vocabulary (tools/reference/mktokenizer.mjs) and the goldens
// (tools/reference/golden.mjs, from @huggingface/transformers and @huggingface/jinja).
var (
	dataDir  = filepath.Join("..", "..", "..", "testdata", "tokenizer")
	lladaDir = filepath.Join(dataDir, "llada-bpe")
)

type golden struct {
	Variants []struct {
		Name  string
		Patch struct {
			PreTokenizer              json.RawMessage `json:"pre_tokenizer"`
			IgnoreMerges              bool            `json:"ignore_merges"`
			Digits                    bool
			MergesAsPairs             bool `json:"merges_as_pairs"`
			LStrip, RStrip            []string
			CleanUpTokenizationSpaces *bool `json:"clean_up_tokenization_spaces"`
		}
		Cases []struct {
			Text, Decoded string
			IDs           []int32
		}
	}
	Chats []struct {
		Template            string
		Messages            []tokenizer.Message
		AddGenerationPrompt bool `json:"add_generation_prompt"`
		Rendered            string
		IDs                 []int32
	}
	Templates map[string]string
}

func readGolden(t testing.TB) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// readFiles returns the test vocabulary's tokenizer.json and tokenizer_config.json decoded
// into generic maps, for patching.
func readFiles(t testing.TB) (tj, tc map[string]any) {
	t.Helper()
	for name, dst := range map[string]*map[string]any{TokenizerFile: &tj, ConfigFile: &tc} {
		b, err := os.ReadFile(filepath.Join(lladaDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return tj, tc
}

func parseMaps(t testing.TB, tj, tc map[string]any) *BPE {
	t.Helper()
	bj, err := json.Marshal(tj)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := json.Marshal(tc)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(bj, bc)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGoldenTokens checks ids and decoded text of every corpus string, on the shipped test
// vocabulary and its variants, against @huggingface/transformers.
func TestGoldenTokens(t *testing.T) {
	g := readGolden(t)
	if len(g.Variants) < 7 {
		t.Fatalf("golden.json has %d variants, want 7", len(g.Variants))
	}
	for _, v := range g.Variants {
		t.Run(v.Name, func(t *testing.T) {
			tj, tc := readFiles(t)
			p := v.Patch
			model := tj["model"].(map[string]any)
			if p.PreTokenizer != nil {
				var pt any
				if err := json.Unmarshal(p.PreTokenizer, &pt); err != nil {
					t.Fatal(err)
				}
				tj["pre_tokenizer"] = pt
			}
			if p.Digits {
				pt := tj["pre_tokenizer"].(map[string]any)
				list := pt["pretokenizers"].([]any)
				pt["pretokenizers"] = append([]any{list[0], map[string]any{"type": "Digits", "individual_digits": true}}, list[1:]...)
			}
			if p.IgnoreMerges {
				model["ignore_merges"] = true
			}
			if p.MergesAsPairs {
				for i, m := range model["merges"].([]any) {
					a, b, _ := cutSpace(m.(string))
					model["merges"].([]any)[i] = []any{a, b}
				}
			}
			for _, a := range tj["added_tokens"].([]any) {
				a := a.(map[string]any)
				if slices.Contains(p.LStrip, a["content"].(string)) {
					a["lstrip"] = true
				}
				if slices.Contains(p.RStrip, a["content"].(string)) {
					a["rstrip"] = true
				}
			}
			if p.CleanUpTokenizationSpaces != nil {
				tc["clean_up_tokenization_spaces"] = *p.CleanUpTokenizationSpaces
			}
			tok := parseMaps(t, tj, tc)
			for _, c := range v.Cases {
				ids, err := tok.Encode(c.Text)
				if err != nil {
					t.Errorf("Encode(%q): %v", c.Text, err)
					continue
				}
				if !slices.Equal(ids, c.IDs) && !(len(ids) == 0 && len(c.IDs) == 0) {
					t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, ids, c.IDs)
				}
				dec, err := tok.Decode(c.IDs)
				if err != nil || dec != c.Decoded {
					t.Errorf("Decode(%v) = %q, %v; want %q", c.IDs, dec, err, c.Decoded)
				}
			}
		})
	}
}

func cutSpace(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestGoldenChat renders each conversation with each template as @huggingface/jinja (through
// transformers' apply_chat_template for LLaDA's) does, and tokenizes LLaDA's prompts.
func TestGoldenChat(t *testing.T) {
	g := readGolden(t)
	tok, err := Load(lladaDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ChatTemplate() == nil {
		t.Fatal("the test vocabulary's tokenizer_config.json has no chat_template")
	}
	if g.Templates["llada"] == "" || len(g.Chats) < 20 {
		t.Fatalf("golden.json has %d chats and llada template %q", len(g.Chats), g.Templates["llada"])
	}
	specials := map[string]string{"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>"}
	for _, c := range g.Chats {
		var ct *ChatTemplate
		if c.Template == "llada" {
			ct = tok.ChatTemplate()
		} else if ct, err = NewChatTemplate(g.Templates[c.Template], specials); err != nil {
			t.Fatalf("%s: %v", c.Template, err)
		}
		got, err := ct.Render(c.Messages, c.AddGenerationPrompt)
		if err != nil || got != c.Rendered {
			t.Errorf("%s %v gen=%v:\n got %q, %v\nwant %q", c.Template, c.Messages, c.AddGenerationPrompt, got, err, c.Rendered)
			continue
		}
		if c.IDs == nil {
			continue
		}
		ids, err := tok.Encode(got)
		if err != nil || !slices.Equal(ids, c.IDs) {
			t.Errorf("Encode(%q) = %v, %v; want %v", got, ids, err, c.IDs)
		}
	}
}

// TestSpecials checks the special ids the test vocabulary declares, the mask found by its
// LLaDA name (the config names no mask_token, as LLaDA-8B-Base's).
func TestSpecials(t *testing.T) {
	tok, err := Load(lladaDir)
	if err != nil {
		t.Fatal(err)
	}
	var _ tokenizer.Tokenizer = tok
	want := map[string]int32{}
	tj, _ := readFiles(t)
	for _, a := range tj["added_tokens"].([]any) {
		a := a.(map[string]any)
		want[a["content"].(string)] = int32(a["id"].(float64))
	}
	s := tok.Specials()
	if s.BOS != want["<|startoftext|>"] || s.EOS != want["<|endoftext|>"] || s.Pad != s.EOS || s.Mask != want[LLaDAMask] {
		t.Errorf("Specials() = %+v, want bos %d eos %d pad=eos mask %d", s, want["<|startoftext|>"], want["<|endoftext|>"], want[LLaDAMask])
	}
	if last := want["<|eot_id|>"]; tok.VocabSize() != int(last)+1 {
		t.Errorf("VocabSize() = %d, want %d (<|eot_id|> is the last id)", tok.VocabSize(), last+1)
	}
}
