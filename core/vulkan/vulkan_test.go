//go:build linux && cgo

package vulkan

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/backendtest"
)

// newTest opens a validating backend on any device (lavapipe included) and fails the test on
// any validation message. Without Vulkan it skips, unless AGRPO_REQUIRE_VULKAN=1.
func newTest(t *testing.T) *Backend {
	t.Helper()
	b, err := New(Options{Device: Auto, AllowCPU: true, Validation: true})
	if err != nil {
		if errors.Is(err, ErrUnavailable) && os.Getenv("AGRPO_REQUIRE_VULKAN") != "1" {
			t.Skipf("no Vulkan device: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Sync(); err != nil {
			t.Error(err)
		}
		msgs := b.Messages()
		b.Close()
		for _, m := range msgs {
			t.Errorf("validation: %s", m)
		}
	})
	return b
}

// TestVulkanSuite holds the Vulkan backend to the shared definition of every op, under
// validation.
func TestVulkanSuite(t *testing.T) {
	newTest(t).Close() // skip early without a device
	var open []*Backend
	t.Cleanup(func() {
		for _, b := range open {
			for _, m := range b.Messages() {
				t.Errorf("validation: %s", m)
			}
			b.Close()
		}
	})
	backendtest.Run(t, func() core.Backend {
		b, err := New(Options{Device: Auto, AllowCPU: true, Validation: true})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, b)
		return b
	})
}

// TestMemoryBytes: the memory a run's plan is checked against is the heap `demo devices` lists
// for the device (the "N MiB" of its line).
func TestMemoryBytes(t *testing.T) {
	b := newTest(t)
	lines, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	index, _ := b.Device()
	mib := fmt.Sprintf(", %d MiB,", b.MemoryBytes()>>20)
	if b.MemoryBytes() == 0 || index >= len(lines) || !strings.Contains(lines[index], mib) {
		t.Fatalf("MemoryBytes %d (%s) on device %d, devices:\n%s", b.MemoryBytes(), mib, index, strings.Join(lines, "\n"))
	}
}
