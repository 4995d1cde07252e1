package task

import (
	"fmt"
	"strings"
	"unicode/utf8"
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
