// Package hf reads Hugging Face tokenizer folders: tokenizer.json with a byte-level BPE model
// and tokenizer_config.json with the special tokens and the chat template. BPE implements
// tokenizer.Tokenizer.
//
// # What is supported
//
// The files LLaDA and Llama-3-style models ship: no normalizer; a pre-tokenizer that is
// ByteLevel, Split (a regex, behaviour Isolated or Removed), Digits, or a Sequence of them; a BPE model
// (vocab, merges as "a b" strings or [a, b] pairs, ignore_merges, an optional unk_token);
// added tokens (lstrip and rstrip honoured); the ByteLevel decoder. Any other value of a key
// that changes the result (a normalizer, another pre-tokenizer or decoder, BPE dropout,
// byte_fallback, a subword prefix or suffix, single_word added tokens, add_prefix_space) is an
// error naming the key and the value, never silently ignored. Encode never adds special tokens
// (the post_processor is not applied, as add_special_tokens=False in transformers): prompts get
// their BOS from the chat template, which writes it as text.
//
// Limits, for files from elsewhere: ids below 2^22; a pre-tokenizer regex search fails after
// 10 s instead of backtracking forever; a chat template is a program, and rendering has no
// time or memory bound (Python Jinja's sandbox, which transformers uses, caps range() at
// 100,000 items; this engine does not): load templates of models you chose. Text where
// JavaScript and Oniguruma disagree on \s (U+0085, U+FEFF) follows Oniguruma, as Hugging Face's
// Rust tokenizers do; transformers.js differs there.
//
// # Why our own BPE, and which libraries it uses
//
// github.com/sugarme/tokenizer (v0.3.0) was judged and rejected: its Split pre-tokenizer
// compiles the file's regex with Go's regexp package, which has no lookahead, so the
// `\s+(?!\S)` alternative of the GPT-2 and Llama-3 patterns panics at load (MustCompile), and
// Go's `\s` is ASCII-only where the reference's is Unicode; its ByteLevel pre-tokenizer drops
// that alternative altogether (a TODO in its source), so trailing whitespace tokenizes
// differently from Hugging Face's. The BPE merge loop here is small; the regexes run on
// github.com/dlclark/regexp2 (backtracking, lookaround, Unicode classes, as the Oniguruma and
// JavaScript engines of the references). Chat templates render with github.com/ardanlabs/jinja,
// a Jinja engine written for Hugging Face chat templates (it applies transformers'
// trim_blocks/lstrip_blocks defaults); it renders the goldens correctly.
//
// # How it is checked
//
// tools/reference/golden.mjs runs the npm packages @huggingface/transformers (the tokenizer,
// built from the two JSON files without network) and @huggingface/jinja over a corpus of
// strings and conversations and writes testdata/tokenizer/golden.json; the tests compare ids,
// decoded text and rendered prompts with it. Decode(Encode(s)) == s, the tokenizer.json parser
// and the template renderer are fuzzed.
package hf
