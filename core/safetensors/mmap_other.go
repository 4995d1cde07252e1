//go:build !unix

package safetensors

import "os"

// mapFile reads the file whole where there is no mmap (js/wasm, wasip1, windows).
func mapFile(path string, _ int64) ([]byte, func() error, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return buf, func() error { return nil }, nil
}

// dropPages does nothing where the file was read into the heap.
func dropPages([]byte) {}
