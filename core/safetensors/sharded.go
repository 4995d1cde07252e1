package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SingleName is the file of an unsharded Hugging Face checkpoint; IndexName is the index of a
// sharded one, mapping every tensor to the shard file that holds it.
const (
	SingleName = "model.safetensors"
	IndexName  = "model.safetensors.index.json"
)

// Set is the tensors of a Hugging Face model folder, from one file or from shards, each file
// opened with OpenFile (memory-mapped where the system allows).
type Set struct {
	Tensors map[string]Tensor
	// FileOf names, for every tensor, the file (in the folder) that holds it, for messages.
	FileOf map[string]string
	files  []*File
	names  []string // files[i]'s name in the folder
}

// OpenSet opens the checkpoint in dir: the shards listed by IndexName when there is one, else
// SingleName. Every inconsistency is an error naming the file and, where there is one, the
// tensor: an index that is not valid JSON or names a shard outside the folder, a missing or
// damaged shard, a tensor the index places in a shard that does not hold it, a tensor in a
// shard the index does not list (or places elsewhere), and a total_size that disagrees with
// the tensors' bytes.
func OpenSet(dir string) (*Set, error) {
	s := &Set{Tensors: map[string]Tensor{}, FileOf: map[string]string{}}
	raw, err := os.ReadFile(filepath.Join(dir, IndexName))
	if errors.Is(err, fs.ErrNotExist) {
		f, err := OpenFile(filepath.Join(dir, SingleName))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, SingleName), err)
		}
		s.files, s.names = append(s.files, f), append(s.names, SingleName)
		for n, t := range f.Tensors {
			s.Tensors[n], s.FileOf[n] = t, SingleName
		}
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	idxPath := filepath.Join(dir, IndexName)
	idx, err := ParseIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	byShard := map[string][]string{}
	for n, shard := range idx.WeightMap {
		byShard[shard] = append(byShard[shard], n)
	}
	shards := make([]string, 0, len(byShard))
	for sh := range byShard {
		shards = append(shards, sh)
	}
	sort.Strings(shards)
	var total int64
	for _, sh := range shards {
		names := byShard[sh]
		sort.Strings(names)
		path := filepath.Join(dir, sh)
		f, err := OpenFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s (shard of tensor %s, per %s): %w", path, names[0], IndexName, err)
		}
		s.files, s.names = append(s.files, f), append(s.names, sh)
		for _, n := range names {
			t, found := f.Tensors[n]
			if !found {
				return nil, fmt.Errorf("%s: %s places tensor %s in this shard, which does not hold it", path, IndexName, n)
			}
			s.Tensors[n], s.FileOf[n] = t, sh
			total += int64(len(t.Data))
		}
		for _, n := range f.Names() {
			if idx.WeightMap[n] != sh {
				return nil, fmt.Errorf("%s: tensor %s is in this shard but %s %s", path, n, IndexName, where(idx.WeightMap, n))
			}
		}
	}
	if idx.TotalSize != nil && *idx.TotalSize != total {
		return nil, fmt.Errorf("%s: metadata.total_size is %d, but the tensors it lists hold %d bytes", idxPath, *idx.TotalSize, total)
	}
	ok = true
	return s, nil
}

// where says where an index places tensor n, for a message.
func where(m map[string]string, n string) string {
	if sh, ok := m[n]; ok {
		return "places it in " + sh
	}
	return "does not list it"
}

// Drop tells the system that tensor name's data will not be read again, so that a loader that
// has converted it does not keep the file's pages resident until the whole file is released:
// the data stays readable (a mapped file's pages come back from the page cache on a read).
func (s *Set) Drop(name string) {
	if t, ok := s.Tensors[name]; ok {
		dropPages(t.Data)
	}
}

// Release closes one file of the set (a name from FileOf) and drops its tensors, so that a
// loader that has converted them returns the file's memory before it reads the next one.
func (s *Set) Release(file string) error {
	for n, f := range s.FileOf {
		if f == file {
			delete(s.Tensors, n)
			delete(s.FileOf, n)
		}
	}
	for i, f := range s.files {
		if s.names[i] == file {
			s.files = append(s.files[:i], s.files[i+1:]...)
			s.names = append(s.names[:i], s.names[i+1:]...)
			return f.Close()
		}
	}
	return nil
}

// Close releases every file of the set.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files, s.names = nil, nil
	return errors.Join(errs...)
}

// Index is a parsed model.safetensors.index.json.
type Index struct {
	// TotalSize is metadata.total_size when present: the bytes of every tensor's data.
	TotalSize *int64
	// WeightMap maps each tensor name to its shard's file name.
	WeightMap map[string]string
}

// ParseIndex decodes an index file. It is untrusted input: a shard must be a plain file name
// in the folder (no path separator, not "." or ".."), and total_size must not be negative.
func ParseIndex(raw []byte) (*Index, error) {
	var doc struct {
		Metadata  map[string]json.RawMessage `json:"metadata"`
		WeightMap map[string]string          `json:"weight_map"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("index is not a JSON object with a weight_map: %w", err)
	}
	if dec.More() {
		return nil, errors.New("index has data after its JSON object")
	}
	if len(doc.WeightMap) == 0 {
		return nil, errors.New("index has no weight_map entries")
	}
	idx := &Index{WeightMap: doc.WeightMap}
	if ts, ok := doc.Metadata["total_size"]; ok {
		var n int64
		if err := json.Unmarshal(ts, &n); err != nil || n < 0 {
			return nil, fmt.Errorf("index metadata.total_size %s is not a byte count", ts)
		}
		idx.TotalSize = &n
	}
	names := make([]string, 0, len(doc.WeightMap))
	for n := range doc.WeightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sh := doc.WeightMap[n]
		if sh == "" || sh == "." || sh == ".." || strings.ContainsAny(sh, `/\`) || strings.ContainsRune(sh, 0) {
			return nil, fmt.Errorf("index places tensor %s in %q, which is not a file name in the model folder", n, sh)
		}
	}
	return idx, nil
}
