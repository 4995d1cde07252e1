//go:build linux && cgo

package model

import (
	"errors"
	"os"
	"testing"

	"github.com/dllmrl/agrpo/core/vulkan"
)

// TestPyTorchParityVulkan is the PyTorch parity check on the Vulkan backend (lavapipe in CI),
// with the validation layers on: any validation message fails it.
func TestPyTorchParityVulkan(t *testing.T) {
	b, err := vulkan.New(vulkan.Options{Device: vulkan.Auto, AllowCPU: true, Validation: true})
	if err != nil {
		if errors.Is(err, vulkan.ErrUnavailable) && os.Getenv("AGRPO_REQUIRE_VULKAN") != "1" {
			t.Skipf("no Vulkan device: %v", err)
		}
		t.Fatal(err)
	}
	defer func() {
		for _, m := range b.Messages() {
			t.Errorf("validation: %s", m)
		}
		b.Close()
	}()
	RunParity(t, b)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}
