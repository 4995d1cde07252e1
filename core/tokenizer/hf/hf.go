package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/dllmrl/agrpo/core/tokenizer"
)

// File names of a Hugging Face tokenizer folder.
const (
	TokenizerFile = "tokenizer.json"
	ConfigFile    = "tokenizer_config.json"
)

// matchTimeout bounds one regex search of the pre-tokenizer: a pattern from a file can
// backtrack exponentially, and Encode should fail rather than hang.
const matchTimeout = 10 * time.Second

// gpt2Pattern is the regex of a ByteLevel pre-tokenizer with use_regex (GPT-2's).
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// BPE is a Hugging Face byte-level BPE tokenizer read from tokenizer.json and
// tokenizer_config.json. It is safe for concurrent use.
type BPE struct {
	vocab  map[string]int32 // byte-level token text → id
	tokens []string         // id → byte-level token text ("" where only an added token has the id)
	merges map[uint64]merge // (left id, right id) → rank and result
	added  []addedToken     // sorted by content length, longest first
	// addedFirst marks the first bytes of added tokens, so most positions skip the search.
	addedFirst [256]bool
	addedIDs   map[int32]addedToken
	splits     []splitter // pre-tokenizer regex splits, in order, before the byte-level mapping
	unk        int32      // -1 without unk_token

	ignoreMerges bool
	cleanUp      bool // tokenizer_config clean_up_tokenization_spaces
	vocabSize    int
	specials     tokenizer.Specials
	specialText  map[string]string // "bos_token" → "<|startoftext|>", … for the chat template
	chat         *ChatTemplate     // nil when tokenizer_config.json has none

	cache  sync.Map     // byte-level word → its ids, for the first maxCachedWords words
	cached atomic.Int64 // words stored in cache
}

type merge struct{ rank, id int32 }

type addedToken struct {
	id             int32
	content        string
	lstrip, rstrip bool
	special        bool
}

type splitter struct {
	re      *regexp2.Regexp
	removed bool // behaviour Removed: drop the matches; Isolated keeps them as pieces
}

// Load reads dir/tokenizer.json and dir/tokenizer_config.json (the latter optional: without it
// there are no special ids beyond the mask token and no chat template).
func Load(dir string) (*BPE, error) {
	tj, err := os.ReadFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	cj, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		cj = nil
	} else if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(tj, cj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return t, nil
}

// The JSON shapes of tokenizer.json that Parse reads.
type (
	fileJSON struct {
		AddedTokens   []addedJSON     `json:"added_tokens"`
		Normalizer    json.RawMessage `json:"normalizer"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		PostProcessor json.RawMessage `json:"post_processor"`
		Decoder       json.RawMessage `json:"decoder"`
		Model         modelJSON       `json:"model"`
	}
	addedJSON struct {
		ID         *int32 `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Special    bool   `json:"special"`
	}
	preTokJSON struct {
		Type           string       `json:"type"`
		PreTokenizers  []preTokJSON `json:"pretokenizers"`
		Pattern        patternJSON  `json:"pattern"`
		Behavior       string       `json:"behavior"`
		Invert         bool         `json:"invert"`
		AddPrefixSpace bool         `json:"add_prefix_space"`
		UseRegex       *bool        `json:"use_regex"`
		Individual     bool         `json:"individual_digits"`
	}
	patternJSON struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	}
	modelJSON struct {
		Type                    string            `json:"type"`
		Dropout                 *float64          `json:"dropout"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		ByteFallback            bool              `json:"byte_fallback"`
		IgnoreMerges            bool              `json:"ignore_merges"`
		Vocab                   map[string]int32  `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
	}
)

// Parse builds a tokenizer from the bytes of tokenizer.json and tokenizer_config.json (nil
// when there is none). Every unsupported setting is an error naming its key and value.
func Parse(tokenizerJSON, configJSON []byte) (*BPE, error) {
	var f fileJSON
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", TokenizerFile, err)
	}
	t, err := build(&f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TokenizerFile, err)
	}
	if err := t.readConfig(configJSON); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	return t, nil
}

func build(f *fileJSON) (*BPE, error) {
	if !isNull(f.Normalizer) {
		return nil, fmt.Errorf("normalizer %s is not supported (only null)", compact(f.Normalizer))
	}
	t := &BPE{unk: -1, addedIDs: map[int32]addedToken{}}
	if err := t.readModel(&f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := t.readPreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if err := checkDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	for i, a := range f.AddedTokens {
		switch {
		case a.ID == nil || *a.ID < 0 || *a.ID >= maxID:
			return nil, fmt.Errorf("added_tokens[%d] %q: id missing or outside [0, %d)", i, a.Content, maxID)
		case a.Content == "":
			return nil, fmt.Errorf("added_tokens[%d] (id %d): empty content", i, *a.ID)
		case !utf8.ValidString(a.Content):
			return nil, fmt.Errorf("added_tokens[%d] (id %d): content is not valid UTF-8", i, *a.ID)
		case a.SingleWord:
			return nil, fmt.Errorf("added_tokens[%d] %q: single_word true is not supported", i, a.Content)
		}
		if prev, ok := t.addedIDs[*a.ID]; ok {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d is already %q", i, a.Content, *a.ID, prev.content)
		}
		at := addedToken{id: *a.ID, content: a.Content, lstrip: a.LStrip, rstrip: a.RStrip, special: a.Special}
		t.added = append(t.added, at)
		t.addedFirst[at.content[0]] = true
		t.addedIDs[at.id] = at
		t.vocabSize = max(t.vocabSize, int(at.id)+1)
	}
	// Longest first, so that a token that is a prefix of another never wins (Hugging Face
	// matches leftmost-longest).
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	t.tokens = make([]string, t.vocabSize)
	for s, id := range t.vocab {
		t.tokens[id] = s
	}
	return t, nil
}

func (t *BPE) readModel(m *modelJSON) error {
	switch {
	case m.Type != "BPE" && m.Type != "":
		return fmt.Errorf("type %q is not supported (only BPE)", m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return fmt.Errorf("dropout %v is not supported (only null)", *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return fmt.Errorf("continuing_subword_prefix %q is not supported (only null)", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return fmt.Errorf("end_of_word_suffix %q is not supported (only null)", *m.EndOfWordSuffix)
	case m.ByteFallback:
		return errors.New("byte_fallback true is not supported (byte-level BPE needs none)")
	case len(m.Vocab) == 0:
		return errors.New("empty or missing vocab")
	}
	t.ignoreMerges = m.IgnoreMerges
	t.vocab = m.Vocab
	seen := make(map[int32]string, len(m.Vocab))
	for s, id := range m.Vocab {
		if id < 0 || id >= maxID {
			return fmt.Errorf("vocab %q has id %d, outside [0, %d)", s, id, maxID)
		}
		if other, dup := seen[id]; dup {
			return fmt.Errorf("vocab id %d is both %q and %q", id, other, s)
		}
		seen[id] = s
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		t.unk = id
	}
	t.merges = make(map[uint64]merge, len(m.Merges))
	for i, raw := range m.Merges {
		a, b, err := mergePair(raw)
		if err != nil {
			return fmt.Errorf("merges[%d]: %w", i, err)
		}
		ia, oka := m.Vocab[a]
		ib, okb := m.Vocab[b]
		ic, okc := m.Vocab[a+b]
		switch {
		case !oka:
			return fmt.Errorf("merges[%d] (%q %q): %q is not in the vocab", i, a, b, a)
		case !okb:
			return fmt.Errorf("merges[%d] (%q %q): %q is not in the vocab", i, a, b, b)
		case !okc:
			return fmt.Errorf("merges[%d] (%q %q): the merged %q is not in the vocab", i, a, b, a+b)
		}
		key := pairKey(ia, ib)
		if _, dup := t.merges[key]; !dup { // the first (lowest) rank of a repeated merge wins
			t.merges[key] = merge{rank: int32(i), id: ic}
		}
	}
	return nil
}

// mergePair reads a merge written "a b" (the classic format) or ["a", "b"].
func mergePair(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("%q is not two tokens separated by one space", s)
		}
		return a, b, nil
	}
	var p []string
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 || p[0] == "" || p[1] == "" {
		return "", "", fmt.Errorf("%s is neither \"a b\" nor [\"a\", \"b\"]", compact(raw))
	}
	return p[0], p[1], nil
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// readPreTokenizer accepts ByteLevel, Split, Digits or a Sequence of them ending in ByteLevel:
// the byte-level mapping must come last because the regexes are written for the original text.
func (t *BPE) readPreTokenizer(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("null is not supported (a byte-level BPE needs a ByteLevel pre-tokenizer)")
	}
	var p preTokJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	list := []preTokJSON{p}
	if p.Type == "Sequence" {
		list = p.PreTokenizers
	}
	for i, q := range list {
		last := i == len(list)-1
		switch q.Type {
		case "Split":
			if q.Invert {
				return fmt.Errorf("[%d] Split invert true is not supported", i)
			}
			var removed bool
			switch q.Behavior {
			case "Isolated":
			case "Removed":
				removed = true
			default:
				return fmt.Errorf("[%d] Split behavior %q is not supported (Isolated or Removed)", i, q.Behavior)
			}
			var pat string
			switch {
			case q.Pattern.Regex != nil:
				pat = *q.Pattern.Regex
			case q.Pattern.String != nil:
				pat = regexp2.Escape(*q.Pattern.String)
			default:
				return fmt.Errorf("[%d] Split has no pattern (Regex or String)", i)
			}
			re, err := regexp2.Compile(pat, regexp2.None)
			if err != nil {
				return fmt.Errorf("[%d] Split pattern %q: %w", i, pat, err)
			}
			re.MatchTimeout = matchTimeout
			t.splits = append(t.splits, splitter{re: re, removed: removed})
		case "Digits":
			// Hugging Face's Rust tokenizers split at char::is_numeric, which is \p{N}.
			pat := `\p{N}+`
			if q.Individual {
				pat = `\p{N}`
			}
			t.splits = append(t.splits, splitter{re: regexp2.MustCompile(pat, regexp2.None)})
		case "ByteLevel":
			if !last {
				return fmt.Errorf("[%d] ByteLevel must be the last pre-tokenizer", i)
			}
			if q.AddPrefixSpace {
				return fmt.Errorf("[%d] ByteLevel add_prefix_space true is not supported", i)
			}
			if q.UseRegex == nil || *q.UseRegex { // the Hugging Face default is true
				t.splits = append(t.splits, splitter{re: regexp2.MustCompile(gpt2Pattern, regexp2.None)})
			}
			return nil
		default:
			return fmt.Errorf("[%d] type %q is not supported (ByteLevel, Split, Digits, Sequence)", i, q.Type)
		}
	}
	return errors.New("no ByteLevel pre-tokenizer (a byte-level BPE needs one last)")
}

func checkDecoder(raw json.RawMessage) error {
	var d struct {
		Type string `json:"type"`
	}
	if isNull(raw) {
		return errors.New("null is not supported (only ByteLevel)")
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	if d.Type != "ByteLevel" {
		return fmt.Errorf("type %q is not supported (only ByteLevel)", d.Type)
	}
	return nil
}

// readConfig takes the special tokens and the chat template from tokenizer_config.json.
func (t *BPE) readConfig(raw []byte) error {
	t.specials = tokenizer.Specials{BOS: -1, EOS: -1, Pad: -1, Mask: -1}
	t.specialText = map[string]string{}
	var c map[string]json.RawMessage
	if raw != nil {
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		key string
		id  *int32
	}{{"bos_token", &t.specials.BOS}, {"eos_token", &t.specials.EOS}, {"pad_token", &t.specials.Pad},
		{"mask_token", &t.specials.Mask}, {"unk_token", nil}} {
		v, ok := c[s.key]
		if !ok || isNull(v) {
			continue
		}
		text, err := tokenText(v)
		if err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
		id, ok := t.tokenID(text)
		if !ok {
			return fmt.Errorf("%s %q is not a token of %s", s.key, text, TokenizerFile)
		}
		t.specialText[s.key] = text
		if s.id != nil {
			*s.id = id
		}
	}
	// LLaDA-8B-Base names its mask token only among the additional special tokens.
	if t.specials.Mask < 0 {
		if id, ok := t.tokenID(LLaDAMask); ok {
			t.specials.Mask = id
		}
	}
	if v, ok := c["clean_up_tokenization_spaces"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &t.cleanUp); err != nil {
			return fmt.Errorf("clean_up_tokenization_spaces: %w", err)
		}
	}
	if v, ok := c["chat_template"]; ok && !isNull(v) {
		src, err := templateSource(v)
		if err != nil {
			return fmt.Errorf("chat_template: %w", err)
		}
		if t.chat, err = NewChatTemplate(src, t.specialText); err != nil {
			return fmt.Errorf("chat_template: %w", err)
		}
	}
	return nil
}

// maxID bounds token ids, so that a damaged file cannot make the id table huge: the largest
// vocabularies in use have a few hundred thousand tokens.
const maxID = 1 << 22

// LLaDAMask is the content of LLaDA's mask token, taken as the mask when tokenizer_config.json
// names no mask_token.
const LLaDAMask = "<|mdm_mask|>"

// tokenText reads a special token written as a string or as {"content": …}.
func tokenText(v json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var o struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &o); err != nil || o.Content == nil {
		return "", fmt.Errorf("%s is neither a string nor an object with content", compact(v))
	}
	return *o.Content, nil
}

// templateSource reads a chat_template written as a string or as a list of {name, template},
// where the one named "default" is the chat template.
func templateSource(v json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(v, &named); err != nil {
		return "", fmt.Errorf("neither a string nor a list of {name, template}: %w", err)
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", fmt.Errorf("no template named \"default\" among %d", len(named))
}

// tokenID finds a token by its text: an added token's content or a vocab entry.
func (t *BPE) tokenID(text string) (int32, bool) {
	for _, a := range t.added {
		if a.content == text {
			return a.id, true
		}
	}
	id, ok := t.vocab[text]
	return id, ok
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// compact shortens a JSON value for an error message.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
