package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

var (
	lladaOnce sync.Once
	lladaTok  *BPE
	lladaErr  error
)

func llada(t testing.TB) *BPE {
	t.Helper()
	lladaOnce.Do(func() { lladaTok, lladaErr = Load(lladaDir) })
	if lladaErr != nil {
		t.Fatal(lladaErr)
	}
	return lladaTok
}

// TestParseErrors checks that each unsupported or broken setting is an error naming it.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		patch func(tj, tc map[string]any)
		want  string
	}{
		{"normalizer", func(tj, _ map[string]any) { tj["normalizer"] = map[string]any{"type": "NFC"} }, `normalizer {"type":"NFC"} is not supported`},
		{"model type", func(tj, _ map[string]any) { model(tj)["type"] = "WordPiece" }, `model: type "WordPiece" is not supported`},
		{"dropout", func(tj, _ map[string]any) { model(tj)["dropout"] = 0.1 }, "model: dropout 0.1 is not supported"},
		{"byte fallback", func(tj, _ map[string]any) { model(tj)["byte_fallback"] = true }, "model: byte_fallback true"},
		{"subword prefix", func(tj, _ map[string]any) { model(tj)["continuing_subword_prefix"] = "##" }, `continuing_subword_prefix "##"`},
		{"suffix", func(tj, _ map[string]any) { model(tj)["end_of_word_suffix"] = "</w>" }, `end_of_word_suffix "</w>"`},
		{"no vocab", func(tj, _ map[string]any) { model(tj)["vocab"] = map[string]any{} }, "model: empty or missing vocab"},
		{"duplicate id", func(tj, _ map[string]any) { model(tj)["vocab"].(map[string]any)["zzz"] = 5.0 }, "model: vocab id 5 is both"},
		{"unk", func(tj, _ map[string]any) { model(tj)["unk_token"] = "<unk>" }, `model: unk_token "<unk>" is not in the vocab`},
		{"merge format", func(tj, _ map[string]any) { model(tj)["merges"].([]any)[3] = "abc" }, `model: merges[3]: "abc" is not two tokens`},
		{"merge triple", func(tj, _ map[string]any) { model(tj)["merges"].([]any)[4] = []any{"a", "b", "c"} }, `model: merges[4]: ["a","b","c"] is neither`},
		{"merge unknown", func(tj, _ map[string]any) { model(tj)["merges"].([]any)[0] = "Ġ qqqq" }, `model: merges[0] ("Ġ" "qqqq"): "qqqq" is not in the vocab`},
		{"merge result", func(tj, _ map[string]any) { model(tj)["merges"].([]any)[0] = "q z" }, `the merged "qz" is not in the vocab`},
		{"no pre-tokenizer", func(tj, _ map[string]any) { tj["pre_tokenizer"] = nil }, "pre_tokenizer: null is not supported"},
		{"pre-tokenizer type", func(tj, _ map[string]any) { tj["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }, `pre_tokenizer: [0] type "Whitespace" is not supported`},
		{"prefix space", func(tj, _ map[string]any) { preTok(tj, 1)["add_prefix_space"] = true }, "pre_tokenizer: [1] ByteLevel add_prefix_space true"},
		{"split behaviour", func(tj, _ map[string]any) { preTok(tj, 0)["behavior"] = "MergedWithNext" }, `pre_tokenizer: [0] Split behavior "MergedWithNext" is not supported`},
		{"split invert", func(tj, _ map[string]any) { preTok(tj, 0)["invert"] = true }, "pre_tokenizer: [0] Split invert true"},
		{"bad regex", func(tj, _ map[string]any) { preTok(tj, 0)["pattern"] = map[string]any{"Regex": "(unclosed"} }, `pre_tokenizer: [0] Split pattern "(unclosed"`},
		{"no byte level", func(tj, _ map[string]any) {
			tj["pre_tokenizer"].(map[string]any)["pretokenizers"] = tj["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[:1]
		}, "pre_tokenizer: no ByteLevel pre-tokenizer"},
		{"decoder", func(tj, _ map[string]any) { tj["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder: type "WordPiece" is not supported`},
		{"added id", func(tj, _ map[string]any) { addedTok(tj, 0)["id"] = nil }, `added_tokens[0] "<|startoftext|>": id missing or outside [0, 4194304)`},
		{"added huge id", func(tj, _ map[string]any) { addedTok(tj, 0)["id"] = 1 << 30 }, `added_tokens[0] "<|startoftext|>": id missing or outside`},
		{"vocab huge id", func(tj, _ map[string]any) { model(tj)["vocab"].(map[string]any)["zzz"] = 1 << 30 }, `model: vocab "zzz" has id 1073741824, outside [0, 4194304)`},
		{"added twice", func(tj, _ map[string]any) { addedTok(tj, 1)["id"] = addedTok(tj, 0)["id"] }, `added_tokens[1] "<|endoftext|>": id 3859 is already "<|startoftext|>"`},
		{"single word", func(tj, _ map[string]any) { addedTok(tj, 2)["single_word"] = true }, "single_word true is not supported"},
		{"bos unknown", func(_, tc map[string]any) { tc["bos_token"] = "<s>" }, `tokenizer_config.json: bos_token "<s>" is not a token`},
		{"bos object", func(_, tc map[string]any) { tc["bos_token"] = map[string]any{"text": "x"} }, "bos_token: {\"text\":\"x\"} is neither a string nor an object"},
		{"template syntax", func(_, tc map[string]any) { tc["chat_template"] = "{% for %}" }, "tokenizer_config.json: chat_template: compile:"},
		{"template list", func(_, tc map[string]any) {
			tc["chat_template"] = []any{map[string]any{"name": "tool_use", "template": "x"}}
		}, `chat_template: no template named "default" among 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tj, tc := readFiles(t)
			c.patch(tj, tc)
			bj, _ := json.Marshal(tj)
			bc, _ := json.Marshal(tc)
			_, err := Parse(bj, bc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse: %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := Parse([]byte("{"), nil); err == nil || !strings.Contains(err.Error(), "tokenizer.json: unexpected end of JSON input") {
		t.Errorf("Parse of broken JSON: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tokenizer.json: no such file") {
		t.Errorf("Load of an empty folder: %v", err)
	}
}

func model(tj map[string]any) map[string]any { return tj["model"].(map[string]any) }
func preTok(tj map[string]any, i int) map[string]any {
	return tj["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[i].(map[string]any)
}
func addedTok(tj map[string]any, i int) map[string]any {
	return tj["added_tokens"].([]any)[i].(map[string]any)
}

// TestLoadWithoutConfig: tokenizer.json alone gives no BOS/EOS, no template, and still the
// mask by its LLaDA name.
func TestLoadWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(lladaDir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TokenizerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.Specials()
	if s.BOS != -1 || s.EOS != -1 || s.Pad != -1 || s.Mask != llada(t).Specials().Mask || tok.ChatTemplate() != nil {
		t.Errorf("Specials() = %+v, template %v; want only the mask", s, tok.ChatTemplate())
	}
}

func TestEncodeDecodeErrors(t *testing.T) {
	tok := llada(t)
	if _, err := tok.Encode("ok \xff no"); err == nil || err.Error() != "encode: byte 0xff at byte offset 3 is not valid UTF-8" {
		t.Errorf("Encode of invalid UTF-8: %v", err)
	}
	if _, err := tok.Decode([]int32{5, -1}); err == nil || !strings.Contains(err.Error(), "id -1 at position 1 is not in the vocabulary") {
		t.Errorf("Decode(-1): %v", err)
	}
	if _, err := tok.Decode([]int32{int32(tok.VocabSize())}); err == nil {
		t.Error("Decode(VocabSize) succeeded")
	}
	// A multi-byte character cut between ids decodes to U+FFFD, as transformers does.
	ids, err := tok.Encode("東")
	if err != nil || len(ids) < 2 {
		t.Fatalf("Encode(東) = %v, %v; want several byte tokens", ids, err)
	}
	if s, err := tok.Decode(ids[:1]); err != nil || s != "\uFFFD" {
		t.Errorf("Decode of a cut character = %q, %v", s, err)
	}
}

// FuzzRoundTrip: any valid UTF-8 text decodes back to itself.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "  x\n\n\t", "<|eot_id|>a<|mdm_mask|>", "東京 🙂 e\u0301", "1234567 3.5"} {
		f.Add(s)
	}
	tok := llada(f)
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := tok.Encode(s)
		if !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("Encode(%q) accepted invalid UTF-8", s)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		got, err := tok.Decode(ids)
		if err != nil || got != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v (ids %v)", s, got, err, ids)
		}
	})
}

// FuzzParse: any tokenizer.json and tokenizer_config.json bytes either load or fail with an
// error, and a loaded tokenizer encodes without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel","use_regex":false},"decoder":{"type":"ByteLevel"}}`),
		[]byte(`{"bos_token":"a","chat_template":"{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0},"merges":[["a","a"]]},"added_tokens":[{"id":1,"content":"<s>","lstrip":true}],"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"String":"a"},"behavior":"Removed"},{"type":"ByteLevel"}]},"decoder":{"type":"ByteLevel"}}`),
		[]byte(`{"eos_token":{"content":"<s>"}}`))
	f.Fuzz(func(t *testing.T, tj, tc []byte) {
		tok, err := Parse(tj, tc)
		if err != nil {
			return
		}
		for _, s := range []string{"", "ab a", "<s> x", " \n"} {
			ids, err := tok.Encode(s)
			if err == nil {
				_, _ = tok.Decode(ids)
			}
		}
		if c := tok.ChatTemplate(); c != nil {
			_, _ = c.Render([]tokenizer.Message{{Role: "user", Content: "hi"}}, true)
		}
	})
}

// FuzzChatTemplate: any template source compiles and renders or fails with an error. Sources
// with range or '*' are skipped: a template is a program, and range(10**9) or 'x' * 10**9 are
// legal ones that only take long.
func FuzzChatTemplate(f *testing.F) {
	g := readGolden(f)
	for _, src := range g.Templates {
		f.Add(src, "hello")
	}
	f.Add("{{ messages[0].content | upper }}{% if x %}{% endif %}", "x")
	f.Fuzz(func(t *testing.T, src, content string) {
		if len(src) > 2000 || strings.Contains(src, "range") || strings.Contains(src, "*") {
			return
		}
		c, err := NewChatTemplate(src, map[string]string{"bos_token": "<s>"})
		if err != nil {
			return
		}
		_, _ = c.Render([]tokenizer.Message{{Role: "system", Content: content}, {Role: "user", Content: content}}, true)
	})
}

// BenchmarkEncode tokenizes a GSM8K-style chat prompt of about 1 KB with the test vocabulary.
func BenchmarkEncode(b *testing.B) {
	tok := llada(b)
	text := "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nYou will be given a math problem.\n" +
		"Think through the problem step by step, enclosing your reasoning process in <think> tags.<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\n" + strings.Repeat("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. ", 8) +
		"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentEncode: goroutines sharing one tokenizer (and its word cache) get the ids one
// goroutine gets alone. Run with -race.
func TestConcurrentEncode(t *testing.T) {
	tok, err := Load(lladaDir)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"The quick brown fox", "48 / 2 = 24 and 48 + 24 = 72", "東京 🙂 e\u0301 <|eot_id|> x", "  spaces  "}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		if want[i], err = llada(t).Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(texts))
	for g := range 8 {
		wg.Go(func() {
			for k := range 50 {
				i := (g + k) % len(texts)
				if ids, err := tok.Encode(texts[i]); err != nil || !slices.Equal(ids, want[i]) {
					errs <- fmt.Sprintf("Encode(%q) = %v, %v; want %v", texts[i], ids, err, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
