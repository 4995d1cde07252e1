//go:build unix

package safetensors

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps size bytes of path read-only and shared (the page cache, not a copy).
func mapFile(path string, size int64) ([]byte, func() error, error) {
	if size == 0 { // mmap of 0 bytes is an error; Parse reports the empty file
		return nil, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: %d bytes do not fit in memory's address space", path, size)
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close() // the mapping outlives the descriptor
	buf, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return buf, func() error { return syscall.Munmap(buf) }, nil
}

// dropPages tells the system that the whole pages inside data, a part of a mapping, will not be
// read again: they leave the process's resident set (a file's pages stay in the page cache).
func dropPages(data []byte) {
	page := uintptr(os.Getpagesize())
	if len(data) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(&data[0]))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(data))) &^ (page - 1)
	if hi > lo {
		dontNeed(data[lo-start : hi-start])
	}
}
