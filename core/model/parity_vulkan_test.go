//go:build linux && cgo

package model

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
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

// TestLoadDir16Vulkan is TestLoadDir16 on the Vulkan backend (16-bit weights read by the matmul
// and embedding shaders), within 1e-6 relative of the widened weights.
func TestLoadDir16Vulkan(t *testing.T) {
	b := vulkantest.Open(t)
	RunLoadDir16(t, func() core.Backend { return b }, 1e-6)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestHiddenRowsVulkan is TestHiddenRows on the Vulkan backend, with the validation layers on.
func TestHiddenRowsVulkan(t *testing.T) {
	b := vulkantest.Open(t)
	RunHiddenRows(t, b, false)
	RunHiddenRows(t, b, true)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}
