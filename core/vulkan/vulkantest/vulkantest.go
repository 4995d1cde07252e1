// Package vulkantest opens the Vulkan backend for tests outside core/vulkan: one rule for
// every package's Vulkan tests (validation on, lavapipe allowed, skip without a device unless
// AGRPO_REQUIRE_VULKAN=1, and any validation message fails the test).
package vulkantest

import (
	"errors"
	"os"
	"testing"

	"github.com/dllmrl/agrpo/core/vulkan"
)

// Open opens a validating Vulkan backend on any device, lavapipe included, closed when the test
// ends; a validation message logged meanwhile fails the test. Without Vulkan the test is skipped,
// unless AGRPO_REQUIRE_VULKAN=1.
func Open(t testing.TB) *vulkan.Backend {
	t.Helper()
	b, err := vulkan.New(vulkan.Options{Device: vulkan.Auto, AllowCPU: true, Validation: true})
	if err != nil {
		if errors.Is(err, vulkan.ErrUnavailable) && os.Getenv("AGRPO_REQUIRE_VULKAN") != "1" {
			t.Skipf("no Vulkan device: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		msgs := b.Messages()
		b.Close()
		for _, m := range msgs {
			t.Errorf("validation: %s", m)
		}
	})
	return b
}
