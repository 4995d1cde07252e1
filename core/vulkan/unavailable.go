//go:build !(linux && cgo)

package vulkan

import "fmt"

// Backend is not available in this build (it needs cgo on Linux).
type Backend struct{}

// New reports that this build has no Vulkan support.
func New(Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: this build has no Vulkan support (needs linux and cgo)", ErrUnavailable)
}

// Devices reports that this build has no Vulkan support.
func Devices() ([]string, error) {
	_, err := New(Options{})
	return nil, err
}
