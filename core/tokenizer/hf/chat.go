package hf

import (
	"fmt"
	"maps"

	"github.com/ardanlabs/jinja"
	"github.com/dllmrl/agrpo/core/tokenizer"
)

// ChatTemplate is a compiled Jinja chat template with the special tokens it may name
// (bos_token, eos_token, …), a tokenizer.ChatTemplate.
type ChatTemplate struct {
	tmpl     *jinja.Template
	specials map[string]string
}

// NewChatTemplate compiles a chat template. specials maps the names templates use
// ("bos_token", "eos_token", "pad_token", "mask_token", "unk_token") to the tokens' text.
func NewChatTemplate(source string, specials map[string]string) (c *ChatTemplate, err error) {
	// The template is untrusted text; a panic inside the renderer becomes an error.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("compile: template engine failed: %v", r)
		}
	}()
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return &ChatTemplate{tmpl: t, specials: maps.Clone(specials)}, nil
}

// Render writes the conversation as the model's prompt text, with the assistant header that
// starts the model's turn when addGenerationPrompt is set, as transformers' apply_chat_template
// with tokenize=False. The template sees messages (role, content), add_generation_prompt and
// the special tokens' text.
func (c *ChatTemplate) Render(messages []tokenizer.Message, addGenerationPrompt bool) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("render: template engine failed: %v", r)
		}
	}()
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	data := map[string]any{"messages": msgs, "add_generation_prompt": addGenerationPrompt}
	for k, v := range c.specials {
		data[k] = v
	}
	s, err = c.tmpl.Render(data)
	if err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	return s, nil
}

var _ tokenizer.ChatTemplate = (*ChatTemplate)(nil)
