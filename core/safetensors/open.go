package safetensors

import (
	"fmt"
	"os"
)

// OpenFile parses the file at path without reading it into the heap where the system allows:
// on unix it is memory-mapped read-only, so its tensors' Data alias the page cache and a
// loader that converts them tensor by tensor never holds the file twice. Elsewhere (js/wasm,
// wasip1, windows) it is read whole. Call Close when the tensors are no longer needed; with a
// mapping, touching Data after Close faults. The file must not be truncated while it is open
// (a mapped page past the new end faults too): checkpoints are written atomically, by rename.
func OpenFile(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	buf, release, err := mapFile(path, st.Size())
	if err != nil {
		return nil, err
	}
	f, err := Parse(buf)
	if err != nil {
		release()
		return nil, err
	}
	f.release = release
	return f, nil
}

// Close releases the memory of a file from OpenFile (a no-op for one from Parse).
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.release = nil
	return err
}
