package task

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/tokenizer"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
)

var tokDir = filepath.Join("..", "..", "testdata", "tokenizer")

// lladaEncoder is the test vocabulary's tokenizer and chat template (testdata/tokenizer).
func lladaEncoder(t *testing.T) Encoder {
	t.Helper()
	tok, err := hf.Load(filepath.Join(tokDir, "llada-bpe"))
	if err != nil {
		t.Fatal(err)
	}
	return Encoder{Tok: tok, Template: tok.ChatTemplate()}
}

// TestCharEncoderCompletion: the generic completion text equals Answer on the character
// vocabulary.
func TestCharEncoderCompletion(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		ids := make([]int32, rng.IntN(12))
		for i := range ids {
			ids[i] = int32(rng.IntN(VocabSize))
		}
		if got, want := CharEncoder.Completion(ids), Answer(ids); got != want {
			t.Fatalf("Completion(%v) = %q, Answer = %q", ids, got, want)
		}
	}
}

// TestChatPromptGolden: a chat problem's prompt ids are transformers' apply_chat_template ids
// of the same conversation (testdata/tokenizer/golden.json), left-padded with the pad id.
func TestChatPromptGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(tokDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Chats []struct {
			Template            string
			Messages            []tokenizer.Message
			AddGenerationPrompt bool `json:"add_generation_prompt"`
			IDs                 []int32
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	e := lladaEncoder(t)
	pad := e.Tok.Specials().Pad
	checked := 0
	for _, c := range g.Chats {
		m := c.Messages
		if c.Template != "llada" || !c.AddGenerationPrompt || len(m) > 2 || m[len(m)-1].Role != "user" || len(m) == 2 && m[0].Role != "system" {
			continue
		}
		p := Problem{Prompt: m[len(m)-1].Content}
		if len(m) == 2 {
			p.System = m[0].Content
		}
		ids, mask, err := e.Prompt(gsm8k{}, p)
		if err != nil {
			t.Fatal(err)
		}
		n := len(ids) - len(c.IDs)
		if n < 0 || !slices.Equal(ids[n:], c.IDs) || slices.ContainsFunc(ids[:n], func(id int32) bool { return id != pad }) ||
			slices.Contains(mask[:n], 1) || slices.Contains(mask[n:], 0) {
			t.Errorf("Prompt(%+v) = %v, mask %v; want %d pads, then %v", p, ids, mask, n, c.IDs)
		}
		if len(m) == 1 { // a free question's prompt is the same conversation, unpadded
			if _, ids, err := e.ChatPrompt(p.Prompt); err != nil || !slices.Equal(ids, c.IDs) {
				t.Errorf("ChatPrompt(%q) = %v, %v; want %v", p.Prompt, ids, err, c.IDs)
			}
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("checked %d golden conversations, want 3", checked)
	}
}

// TestChatEncoder runs the test split of every chat task through the test vocabulary: prompts
// fit, and each reference answer encodes, decodes back and earns the full reward.
func TestChatEncoder(t *testing.T) {
	e := lladaEncoder(t)
	eos := e.Tok.Specials().EOS
	for _, task := range tasks {
		if !task.Chat() {
			continue
		}
		for _, p := range task.Test() {
			if _, _, err := e.Prompt(task, p); err != nil {
				t.Fatal(err)
			}
			ids, err := e.Answer(task, p.Answer)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != task.AnswerLen() || ids[len(ids)-1] != eos {
				t.Fatalf("%s: answer ids %v, want %d ending in EOS", task.Name(), ids, task.AnswerLen())
			}
			text := e.Completion(ids)
			if r := task.Reward(p, text); text != p.Answer || r.Total != 4 {
				t.Fatalf("%s: answer %q decodes to %q, scoring %+v", task.Name(), p.Answer, text, r)
			}
		}
	}
}

// TestCheckModelTokenizer: a model with its own tokenizer and chat template runs the chat tasks
// its context holds; without a template, or with too short a context, it is refused.
func TestCheckModelTokenizer(t *testing.T) {
	e := lladaEncoder(t)
	mc := ModelLimits{VocabSize: 3880, MaskID: 3867, EOSID: 3860, MaxSeqLen: 1024}
	if err := CheckModel(mc, e, gsm8k{}); err != nil {
		t.Errorf("gsm8k: %v", err)
	}
	if err := CheckModel(mc, e, countdown{}); err != nil {
		t.Errorf("countdown: %v", err)
	}
	if err := CheckModel(mc, Encoder{Tok: e.Tok}, gsm8k{}); err == nil || err.Error() != "task gsm8k writes chat prompts and the model's tokenizer has no chat template" {
		t.Errorf("no template: %v", err)
	}
	if err := CheckModel(mc, e, sudokuChat); err == nil || !strings.Contains(err.Error(), "max_sequence_length 1024 is shorter than sudoku_chat's") {
		t.Errorf("sudoku_chat at 1024: %v", err)
	}
	if err := CheckModel(mc, Encoder{}, countdown{}); err == nil || err.Error() != "task countdown: the model has no tokenizer" {
		t.Errorf("no tokenizer: %v", err)
	}
}

func TestEncoderErrors(t *testing.T) {
	e := lladaEncoder(t)
	p := gsm8k{}.Test()[0]
	if _, _, err := (Encoder{Tok: e.Tok}).Prompt(gsm8k{}, p); err == nil || err.Error() != "gsm8k prompt: the model has no chat template" {
		t.Errorf("no template: %v", err)
	}
	if _, _, err := (Encoder{}).Prompt(gsm8k{}, p); err == nil || err.Error() != "gsm8k prompt: no tokenizer" {
		t.Errorf("no tokenizer: %v", err)
	}
	if _, err := (Encoder{Tok: noEOS{Chars{}}}).Answer(countdown{}, "1+2"); err == nil || !strings.Contains(err.Error(), "countdown answer: the tokenizer has no EOS token") {
		t.Errorf("no EOS: %v", err)
	}
	long := Problem{System: GSM8KSystemPrompt, Prompt: strings.Repeat("How many apples? ", 200)}
	if _, _, err := e.Prompt(gsm8k{}, long); err == nil || !strings.Contains(err.Error(), "tokens, over the limit of 512") {
		t.Errorf("long prompt: %v", err)
	}
	ids, err := e.Tok.Encode("ok <|mdm_mask|>")
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, int32(e.Tok.VocabSize()), -1, e.Tok.Specials().EOS, 5)
	if got := e.Completion(ids); got != "ok <|mdm_mask|>\uFFFD\uFFFD" {
		t.Errorf("Completion = %q", got)
	}
}

// noEOS is a tokenizer without an EOS id.
type noEOS struct{ Chars }

func (noEOS) Specials() tokenizer.Specials {
	return tokenizer.Specials{BOS: -1, EOS: -1, Pad: -1, Mask: Mask}
}
