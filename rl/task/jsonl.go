package task

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Limits on JSONL input: a line is a small object, so a long one is a mistake, and a file
// with many bad lines is the wrong file; stopping early keeps errors readable.
const (
	maxLineBytes  = 64 << 10
	maxLineErrors = 10
)

// parseJSONL reads one problem per non-blank line with decode, which gets the trimmed line.
// Errors name the task and line.
func parseJSONL(name string, r io.Reader, decode func(line []byte) (Problem, error)) ([]Problem, error) {
	if r == nil {
		return nil, fmt.Errorf("%s JSONL: nil reader", name)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes+1) // +1 for the newline
	var probs []Problem
	var errs []error
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		p, err := decode(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s JSONL line %d: %w", name, line, err))
			if len(errs) == maxLineErrors {
				errs = append(errs, fmt.Errorf("%s JSONL: stopped after %d bad lines", name, maxLineErrors))
				return nil, errors.Join(errs...)
			}
			continue
		}
		probs = append(probs, p)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		errs = append(errs, fmt.Errorf("%s JSONL line %d: over %d bytes: %w", name, line+1, maxLineBytes, err))
	} else if err != nil {
		errs = append(errs, fmt.Errorf("%s JSONL: reading after line %d: %w", name, line, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return probs, nil
}

// decodeObject decodes one JSON object into v, a pointer to a struct whose fields all have
// json tags. It rejects trailing data, a key given twice (encoding/json would keep the last
// silently) and any key that is not exactly a tag: encoding/json alone would take "Target" for
// "target".
func decodeObject(line []byte, v any) error {
	if len(line) == 0 || line[0] != '{' {
		return errors.New("not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if k, twice := repeatedKey(line); twice {
		return fmt.Errorf("field %q is given twice", k)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !known[k] {
			return fmt.Errorf("unknown field %q", k)
		}
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

// repeatedKey finds a key that the object in line (valid JSON) gives more than once.
func repeatedKey(line []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // the opening brace
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := tok.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}
