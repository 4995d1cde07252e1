//go:build linux && cgo

package model

import (
	"testing"

	"github.com/dllmrl/agrpo/core/vulkan/vulkantest"
)

// TestPyTorchParityVulkan is the PyTorch parity check on the Vulkan backend (lavapipe in CI),
// with the validation layers on: any validation message fails it.
func TestPyTorchParityVulkan(t *testing.T) {
	b := vulkantest.Open(t)
	RunParity(t, b)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}
