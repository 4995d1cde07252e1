package task

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

// Encoder turns a task's problems into a model's tokens and its completions back into text,
// with the model's tokenizer and, for chat tasks, its chat template.
type Encoder struct {
	// Tok is the model's tokenizer.
	Tok tokenizer.Tokenizer
	// Template is the model's chat template; chat tasks need one, compact tasks ignore it.
	Template tokenizer.ChatTemplate
}

// CharEncoder is the shipped tiny models' encoder: the character vocabulary, no template.
var CharEncoder = Encoder{Tok: Chars{}}

// PromptText is the text a model is prompted with: a compact task's prompt as it is; a chat
// task's system turn (if any) and user turn rendered with the template, ending with the header
// that opens the assistant's turn.
func (e Encoder) PromptText(t Task, p Problem) (string, error) {
	if !t.Chat() {
		return p.Prompt, nil
	}
	s, err := e.chat(p.System, p.Prompt)
	if err != nil {
		return "", fmt.Errorf("%s prompt: %w", t.Name(), err)
	}
	return s, nil
}

// ChatPrompt is a free question's prompt for an instruction model: the user turn rendered with
// the chat template (no system turn), ending with the assistant's header, and its tokens.
func (e Encoder) ChatPrompt(question string) (text string, ids []int32, err error) {
	if e.Tok == nil {
		return "", nil, errors.New("chat prompt: no tokenizer")
	}
	if text, err = e.chat("", question); err != nil {
		return "", nil, fmt.Errorf("chat prompt: %w", err)
	}
	if ids, err = e.Tok.Encode(text); err != nil {
		return "", nil, fmt.Errorf("chat prompt %q: %w", shorten(text), err)
	}
	return text, ids, nil
}

// chat renders a conversation of a system turn (omitted when empty) and a user turn, then the
// header that opens the assistant's turn.
func (e Encoder) chat(system, user string) (string, error) {
	if e.Template == nil {
		return "", errors.New("the model has no chat template")
	}
	var msgs []tokenizer.Message
	if system != "" {
		msgs = append(msgs, tokenizer.Message{Role: "system", Content: system})
	}
	msgs = append(msgs, tokenizer.Message{Role: "user", Content: user})
	s, err := e.Template.Render(msgs, true)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return s, nil
}

// Prompt tokenizes p's prompt (PromptText) left-padded to t.PromptLen() with the tokenizer's
// pad id (EOS when it has none). keyMask is 1 on the prompt's own tokens and 0 on the padding,
// so attention can skip the padding.
func (e Encoder) Prompt(t Task, p Problem) (ids, keyMask []int32, err error) {
	if t == nil {
		return nil, nil, fmt.Errorf("encode prompt %q: nil task", p.Prompt)
	}
	pad, _, err := e.padIDs()
	if err != nil {
		return nil, nil, fmt.Errorf("%s prompt: %w", t.Name(), err)
	}
	text, err := e.PromptText(t, p)
	if err != nil {
		return nil, nil, err
	}
	toks, err := e.fit(text, t.PromptLen())
	if err != nil {
		return nil, nil, fmt.Errorf("%s prompt: %w", t.Name(), err)
	}
	n, padN := t.PromptLen(), t.PromptLen()-len(toks)
	ids, keyMask = make([]int32, n), make([]int32, n)
	for i := range n {
		if i < padN {
			ids[i] = pad
		} else {
			ids[i], keyMask[i] = toks[i-padN], 1
		}
	}
	return ids, keyMask, nil
}

// Answer tokenizes an answer right-padded with EOS to t.AnswerLen(), as SFT targets it.
func (e Encoder) Answer(t Task, answer string) ([]int32, error) {
	if t == nil {
		return nil, fmt.Errorf("encode answer %q: nil task", answer)
	}
	_, eos, err := e.padIDs()
	if err != nil {
		return nil, fmt.Errorf("%s answer: %w", t.Name(), err)
	}
	toks, err := e.fit(answer, t.AnswerLen())
	if err != nil {
		return nil, fmt.Errorf("%s answer: %w", t.Name(), err)
	}
	for len(toks) < t.AnswerLen() {
		toks = append(toks, eos)
	}
	return toks, nil
}

// Completion is a completion's text as a reward sees it: the ids before the first EOS, decoded
// (special tokens by their text, so a mask left in never parses); an id outside the tokenizer's
// vocabulary (a model's vocabulary can be larger) becomes U+FFFD.
func (e Encoder) Completion(ids []int32) string {
	eos := e.Tok.Specials().EOS
	var b strings.Builder
	start := 0
	flush := func(end int) {
		s, _ := e.Tok.Decode(ids[start:end]) // every id in ids[start:end] is in the vocabulary
		b.WriteString(s)
	}
	for i, id := range ids {
		if id == eos {
			ids = ids[:i]
			break
		}
	}
	for i, id := range ids {
		if id < 0 || int(id) >= e.Tok.VocabSize() {
			flush(i)
			b.WriteRune('\uFFFD')
			start = i + 1
		}
	}
	flush(len(ids))
	return b.String()
}

// padIDs returns the ids that pad prompts (pad, else EOS) and answers (EOS).
func (e Encoder) padIDs() (pad, eos int32, err error) {
	if e.Tok == nil {
		return 0, 0, errors.New("no tokenizer")
	}
	s := e.Tok.Specials()
	if s.EOS < 0 {
		return 0, 0, errors.New("the tokenizer has no EOS token, which ends and pads answers")
	}
	if s.Pad < 0 {
		return s.EOS, s.EOS, nil
	}
	return s.Pad, s.EOS, nil
}

// fit encodes s and checks that it takes at most n tokens.
func (e Encoder) fit(s string, n int) ([]int32, error) {
	toks, err := e.Tok.Encode(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", shorten(s), err)
	}
	if len(toks) > n {
		return nil, fmt.Errorf("%q is %d tokens, over the limit of %d", shorten(s), len(toks), n)
	}
	return toks, nil
}

// shorten cuts a long text for an error message: a chat prompt can be thousands of characters.
func shorten(s string) string {
	const most = 80
	if r := []rune(s); len(r) > most {
		return string(r[:most/2]) + "…" + string(r[len(r)-most/2:])
	}
	return s
}
