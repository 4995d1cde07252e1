//go:build unix && !linux

package safetensors

// dontNeed does nothing where the syscall package has no madvise (macOS, the BSDs): the
// kernel reclaims the mapped pages by itself, later.
func dontNeed([]byte) {}
