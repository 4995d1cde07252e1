package hf

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dllmrl/agrpo/core/tokenizer"
)

// Encode tokenizes text: added tokens first (leftmost-longest), then each stretch between
// them through the pre-tokenizer, the byte-level mapping and the BPE merges. Text that is not
// valid UTF-8 is an error naming the byte offset.
func (t *BPE) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		i := 0
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, fmt.Errorf("encode: byte 0x%02x at byte offset %d is not valid UTF-8", text[i], i)
	}
	var ids []int32
	start := 0 // start of the plain text not yet encoded
	for i := 0; i < len(text); {
		a, ok := t.addedAt(text, i)
		if !ok {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		end := i
		if a.lstrip {
			end = start + len(strings.TrimRightFunc(text[start:i], unicode.IsSpace))
		}
		var err error
		if ids, err = t.encodePlain(ids, text[start:end]); err != nil {
			return nil, err
		}
		ids = append(ids, a.id)
		i += len(a.content)
		if a.rstrip {
			i = len(text) - len(strings.TrimLeftFunc(text[i:], unicode.IsSpace))
		}
		start = i
	}
	return t.encodePlain(ids, text[start:])
}

// addedAt returns the longest added token starting at byte i of text.
func (t *BPE) addedAt(text string, i int) (addedToken, bool) {
	if !t.addedFirst[text[i]] {
		return addedToken{}, false
	}
	for _, a := range t.added { // longest first
		if strings.HasPrefix(text[i:], a.content) {
			return a, true
		}
	}
	return addedToken{}, false
}

// encodePlain appends the ids of text that holds no added token.
func (t *BPE) encodePlain(ids []int32, text string) ([]int32, error) {
	if text == "" {
		return ids, nil
	}
	pieces := []string{text}
	for _, s := range t.splits {
		var next []string
		for _, p := range pieces {
			var err error
			if next, err = s.split(next, p); err != nil {
				return nil, fmt.Errorf("encode: pre-tokenizer: %w", err)
			}
		}
		pieces = next
	}
	var word strings.Builder
	for _, p := range pieces {
		word.Reset()
		for i := 0; i < len(p); i++ {
			word.WriteRune(byteToRune[p[i]])
		}
		var err error
		if ids, err = t.bpe(ids, word.String()); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// split cuts p at the regex's matches: Isolated keeps matches and the text between them as
// pieces, Removed keeps only the text between.
func (s splitter) split(dst []string, p string) ([]string, error) {
	locs, err := s.re.FindAllStringIndex(p, -1)
	if err != nil {
		return nil, err
	}
	prev := 0
	for _, l := range locs {
		if l[0] > prev {
			dst = append(dst, p[prev:l[0]])
		}
		if !s.removed && l[1] > l[0] {
			dst = append(dst, p[l[0]:l[1]])
		}
		prev = l[1]
	}
	if prev < len(p) {
		dst = append(dst, p[prev:])
	}
	return dst, nil
}

// bpe appends the ids of one pre-tokenized word (byte-level text): its characters' ids merged
// pair by pair, the lowest-ranked pair first and the leftmost among equals (Hugging Face's
// order).
func (t *BPE) bpe(ids []int32, word string) ([]int32, error) {
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok {
			return append(ids, id), nil
		}
	}
	if c, ok := t.cache.Load(word); ok {
		return append(ids, c.([]int32)...), nil
	}
	start := len(ids)
	ids, err := t.merge(ids, word)
	if err == nil && t.cached.Add(1) <= maxCachedWords {
		t.cache.Store(word, slices.Clone(ids[start:]))
	}
	return ids, err
}

// maxCachedWords bounds the word cache: words repeat in text, and the merge loop allocates.
const maxCachedWords = 1 << 16

// merge is bpe without the cache.
func (t *BPE) merge(ids []int32, word string) ([]int32, error) {
	syms := make([]symbol, 0, len(word))
	for _, r := range word {
		id, ok := t.vocab[string(r)]
		if !ok {
			if t.unk < 0 {
				return nil, fmt.Errorf("encode: byte-level character %q is not in the vocab and there is no unk_token", r)
			}
			id = t.unk
		}
		syms = append(syms, symbol{id: id, prev: len(syms) - 1, next: len(syms) + 1})
	}
	var q pairQueue
	for i := 0; i+1 < len(syms); i++ {
		t.push(&q, syms, i)
	}
	for q.Len() > 0 {
		c := heap.Pop(&q).(pairCand)
		l := &syms[c.pos]
		if l.id != c.left || l.next >= len(syms) || syms[l.next].id != c.right {
			continue // stale: one side was merged since
		}
		r := &syms[l.next]
		l.id, l.next = c.result, r.next
		r.id = -1
		if l.next < len(syms) {
			syms[l.next].prev = c.pos
		}
		if l.prev >= 0 {
			t.push(&q, syms, l.prev)
		}
		t.push(&q, syms, c.pos)
	}
	for i := 0; i < len(syms); i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	return ids, nil
}

// symbol is one token of a word being merged, in a linked list over the word's characters.
type symbol struct {
	id         int32 // -1 once merged into its left neighbour
	prev, next int
}

// push queues the merge of the symbol at i with its right neighbour, if there is one.
func (t *BPE) push(q *pairQueue, syms []symbol, i int) {
	j := syms[i].next
	if j >= len(syms) {
		return
	}
	if m, ok := t.merges[pairKey(syms[i].id, syms[j].id)]; ok {
		heap.Push(q, pairCand{rank: m.rank, pos: i, left: syms[i].id, right: syms[j].id, result: m.id})
	}
}

type pairCand struct {
	rank, left, right, result int32
	pos                       int
}

// pairQueue orders candidate merges by rank, then position.
type pairQueue []pairCand

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(pairCand)) }
func (q *pairQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Decode renders ids: added tokens by their content, the rest through the byte-level decoder.
// Bytes that do not form valid UTF-8 (ids cut inside a character) become U+FFFD.
func (t *BPE) Decode(ids []int32) (string, error) {
	var out, run []byte // run: bytes of consecutive vocab tokens
	flush := func() {
		out = append(out, strings.ToValidUTF8(string(run), "\uFFFD")...)
		run = run[:0]
	}
	for i, id := range ids {
		if a, ok := t.addedIDs[id]; ok {
			flush()
			out = append(out, a.content...)
			continue
		}
		if id < 0 || int(id) >= len(t.tokens) || t.tokens[id] == "" {
			return "", fmt.Errorf("decode: id %d at position %d is not in the vocabulary of %d", id, i, t.vocabSize)
		}
		for _, r := range t.tokens[id] {
			b, ok := runeToByte[r]
			if !ok {
				return "", fmt.Errorf("decode: token %d (%q) at position %d has %q, not a byte-level character", id, t.tokens[id], i, r)
			}
			run = append(run, b)
		}
	}
	flush()
	s := string(out)
	if t.cleanUp {
		for i := 0; i < len(cleanUpSpaces); i += 2 {
			s = strings.ReplaceAll(s, cleanUpSpaces[i], cleanUpSpaces[i+1])
		}
	}
	return s, nil
}

// cleanUpSpaces is transformers' clean_up_tokenization, old → new in the order it replaces them:
// the spaces tokenizers of old put before punctuation and English contractions.
var cleanUpSpaces = [...]string{" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'",
	" n't", "n't", " 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re"}

// VocabSize is one more than the largest id of the vocab and the added tokens.
func (t *BPE) VocabSize() int { return t.vocabSize }

// Specials returns the ids of tokenizer_config.json's bos, eos, pad and mask tokens.
func (t *BPE) Specials() tokenizer.Specials { return t.specials }

// ChatTemplate returns the chat template of tokenizer_config.json, or nil when it has none.
func (t *BPE) ChatTemplate() *ChatTemplate { return t.chat }

// byteToRune is GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves and
// the others for code points from 256 up, so that every byte is a visible character.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := make(map[rune]byte, 256)
	n := rune(256)
	for b := range 256 {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = n
			n++
		}
		b2r[b] = r
		r2b[r] = byte(b)
	}
	return b2r, r2b
}()
