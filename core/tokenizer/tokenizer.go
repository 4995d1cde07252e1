// Package tokenizer is the interface every model's vocabulary meets: text to token ids and
// back, and the special ids (BOS, EOS, pad, the diffusion mask). Two implement it: the compact
// tasks' 22-token character vocabulary (rl/task.Chars) and Hugging Face byte-level BPE
// tokenizer folders (core/tokenizer/hf). The package has no dependencies, so that code needing
// only the interface (the tasks, the browser build) does not link a BPE or a template engine.
package tokenizer

// Tokenizer is a model's vocabulary: text to ids and back, and its special ids.
// Implementations are safe for concurrent use.
type Tokenizer interface {
	// Encode tokenizes text. It adds no special tokens of its own; special tokens written in
	// the text (an added token's content) become their ids.
	Encode(text string) ([]int32, error)
	// Decode renders ids as text, special tokens by their content. An id outside the
	// vocabulary is an error naming it and its position.
	Decode(ids []int32) (string, error)
	// VocabSize is one more than the largest id.
	VocabSize() int
	// Specials returns the special token ids.
	Specials() Specials
}

// Specials are a vocabulary's special token ids; -1 when the vocabulary has none.
type Specials struct {
	// BOS starts a sequence, EOS ends a completion, Pad pads, Mask is the diffusion mask.
	BOS, EOS, Pad, Mask int32
}

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user" or "assistant" (the template decides what it accepts).
	Role string
	// Content is the turn's text.
	Content string
}

// ChatTemplate renders a conversation as an instruction model's prompt text. Implementations
// are safe for concurrent use.
type ChatTemplate interface {
	// Render writes the conversation, then the header that opens the assistant's turn when
	// addGenerationPrompt is set (transformers' apply_chat_template with tokenize=False).
	Render(messages []Message, addGenerationPrompt bool) (string, error)
}
