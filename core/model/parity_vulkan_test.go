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

// TestHFParityVulkan is TestHFParity (LLaDA folders with grouped-query attention, BF16 and F32)
// on the Vulkan backend, with the validation layers on.
func TestHFParityVulkan(t *testing.T) {
	b := vulkantest.Open(t)
	RunHFParity(t, b)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}
