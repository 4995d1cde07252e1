package task

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

// Alphabet is the tokenizer's character set; a character's token id is its index here.
const Alphabet = "0123456789+-*/()=: ."

// Special token ids and the vocabulary size, untyped so they serve as int32 ids and int sizes.
const (
	// EOS ends a completion and also pads prompts and answers, as LLaDA pads with EOS. It
	// follows the len(Alphabet) character ids.
	EOS = 20
	// Mask is the diffusion mask token.
	Mask = 21
	// VocabSize is the number of token ids.
	VocabSize = 22
)

// Encode maps each character of s to its token id. A character outside Alphabet is an error
// naming it and its byte offset.
func Encode(s string) ([]int32, error) {
	ids := make([]int32, 0, len(s))
	for i, r := range s {
		id := strings.IndexRune(Alphabet, r)
		if id < 0 {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 && r == utf8.RuneError {
				return nil, fmt.Errorf("encode: byte 0x%02x at byte offset %d is not valid UTF-8", s[i], i)
			}
			return nil, fmt.Errorf("encode: character %q at byte offset %d is not in the alphabet %q", r, i, Alphabet)
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}

// Decode renders ids for display: EOS as '$', Mask as '_', and an id outside the vocabulary
// as '?'.
func Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte(glyph(id))
	}
	return b.String()
}

// Answer is a completion's text as a reward sees it: the characters before the first EOS,
// with Mask rendered '_' (so a completion with masks left never parses) and an id outside
// the vocabulary '?'.
func Answer(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id == EOS {
			break
		}
		b.WriteByte(glyph(id))
	}
	return b.String()
}

func glyph(id int32) byte {
	switch {
	case id >= 0 && int(id) < len(Alphabet):
		return Alphabet[id]
	case id == EOS:
		return '$'
	case id == Mask:
		return '_'
	}
	return '?'
}

// Chars is the compact tasks' character vocabulary as a tokenizer.Tokenizer, the tokenizer of
// the shipped tiny models: Encode and the display form of Decode above, and its special ids.
type Chars struct{}

var _ tokenizer.Tokenizer = Chars{}

// Encode is the package's Encode.
func (Chars) Encode(text string) ([]int32, error) { return Encode(text) }

// Decode renders ids as the package's Decode does (EOS '$', Mask '_'); an id outside the
// vocabulary is an error naming it and its position.
func (Chars) Decode(ids []int32) (string, error) {
	for i, id := range ids {
		if id < 0 || id >= VocabSize {
			return "", fmt.Errorf("decode: id %d at position %d is not in the vocabulary of %d", id, i, VocabSize)
		}
	}
	return Decode(ids), nil
}

// VocabSize is the package's VocabSize.
func (Chars) VocabSize() int { return VocabSize }

// Specials: no BOS; EOS ends completions and pads; Mask.
func (Chars) Specials() tokenizer.Specials {
	return tokenizer.Specials{BOS: -1, EOS: EOS, Pad: EOS, Mask: Mask}
}
