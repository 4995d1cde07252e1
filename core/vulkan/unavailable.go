//go:build !(linux && cgo)

package vulkan

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
)

// Backend is not available in this build (it needs cgo on Linux). It still has the type's
// method set, so callers compile unchanged; New never returns one.
type Backend struct {
	core.Backend
}

// New reports that this build has no Vulkan support.
func New(Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: this build has no Vulkan support (needs linux and cgo)", ErrUnavailable)
}

// Devices reports that this build has no Vulkan support.
func Devices() ([]string, error) {
	_, err := New(Options{})
	return nil, err
}

// Close does nothing: no Backend of this build exists.
func (b *Backend) Close() {}

// Messages is empty: no Backend of this build exists.
func (b *Backend) Messages() []string { return nil }

// Profile is empty: no Backend of this build exists.
func (b *Backend) Profile() []OpTime { return nil }

// ResetProfile does nothing: no Backend of this build exists.
func (b *Backend) ResetProfile() {}

// Device has no answer: no Backend of this build exists.
func (b *Backend) Device() (index int, kind string) { return -1, "" }

// MemoryBytes is 0: no Backend of this build exists.
func (b *Backend) MemoryBytes() uint64 { return 0 }
