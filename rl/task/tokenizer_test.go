package task

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

// specVocab is the vocabulary as the design lists it: ids 0–19.
var specVocab = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "-", "*", "/", "(", ")", "=", ":", " ", "."}

func TestVocabulary(t *testing.T) {
	if EOS != 20 || Mask != 21 || VocabSize != 22 || len(Alphabet) != EOS {
		t.Fatalf("EOS %d, Mask %d, VocabSize %d, %d characters", EOS, Mask, VocabSize, len(Alphabet))
	}
	for id, ch := range specVocab {
		ids, err := Encode(ch)
		if err != nil || !slices.Equal(ids, []int32{int32(id)}) {
			t.Errorf("Encode(%q) = %v, %v, want [%d]", ch, ids, err, id)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	check := func(s string) {
		ids, err := Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if got := Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if got := Answer(ids); got != s {
			t.Fatalf("Answer(Encode(%q)) = %q", s, got)
		}
	}
	check("")
	for _, a := range specVocab {
		for _, b := range specVocab {
			check(a + b)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(specVocab[rng.IntN(len(specVocab))])
		}
		check(b.String())
	}
}

func TestEncodeError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12a", `'a' at byte offset 2`},
		{"1é=", `'é' at byte offset 1`},
		{"1_", `'_' at byte offset 1`},
		{"12\xff", `byte 0xff at byte offset 2 is not valid UTF-8`},
		{"1\ufffd", "'\ufffd' at byte offset 1 is not in the alphabet"},
	} {
		if _, err := Encode(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%q) error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

func TestDecodeAnswer(t *testing.T) {
	if got := Decode([]int32{1, 10, Mask, EOS, 5, 22, -1}); got != "1+_$5??" {
		t.Errorf("Decode = %q", got)
	}
	for _, c := range []struct {
		ids  []int32
		want string
	}{
		{[]int32{1, 10, 2, EOS, 3, EOS}, "1+2"},
		{[]int32{1, Mask, 2}, "1_2"},
		{[]int32{EOS, 1}, ""},
		{nil, ""},
		{[]int32{99}, "?"},
	} {
		if got := Answer(c.ids); got != c.want {
			t.Errorf("Answer(%v) = %q, want %q", c.ids, got, c.want)
		}
	}
}

// FuzzEncode checks that Encode accepts exactly the strings over the vocabulary and that
// Decode inverts it.
func FuzzEncode(f *testing.F) {
	f.Add("3 7 12=33:")
	f.Add("1.3.:")
	f.Add("a\xff")
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := Encode(s)
		valid := utf8.ValidString(s)
		for _, r := range s {
			valid = valid && slices.Contains(specVocab, string(r))
		}
		if (err == nil) != valid {
			t.Fatalf("Encode(%q) error %v, but the string is over the vocabulary: %v", s, err, valid)
		}
		if err == nil && (Decode(ids) != s || Answer(ids) != s || len(ids) != len(s)) {
			t.Fatalf("Encode(%q) = %v decodes to %q", s, ids, Decode(ids))
		}
	})
}

// TestChars checks the character vocabulary through the tokenizer interface.
func TestChars(t *testing.T) {
	var tok tokenizer.Tokenizer = Chars{}
	ids, err := tok.Encode("3 7 12=33:")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tok.Decode(append(ids, EOS, Mask)); err != nil || s != "3 7 12=33:$_" {
		t.Errorf("Decode = %q, %v", s, err)
	}
	if _, err := tok.Decode([]int32{1, VocabSize}); err == nil || err.Error() != "decode: id 22 at position 1 is not in the vocabulary of 22" {
		t.Errorf("Decode(22): %v", err)
	}
	if _, err := tok.Decode([]int32{-1}); err == nil {
		t.Error("Decode(-1) succeeded")
	}
	want := tokenizer.Specials{BOS: -1, EOS: 20, Pad: 20, Mask: 21}
	if tok.VocabSize() != 22 || tok.Specials() != want {
		t.Errorf("VocabSize %d, Specials %+v", tok.VocabSize(), tok.Specials())
	}
}
