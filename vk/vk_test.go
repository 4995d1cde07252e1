//go:build linux && cgo

package vk

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/shaders"
)

// open returns a validating context on any device, lavapipe included. Without Vulkan the test
// is skipped, unless AGRPO_REQUIRE_VULKAN=1 makes that a failure. Validation messages fail the
// test when it ends.
func open(t *testing.T, profile bool) *Context {
	t.Helper()
	c, err := Open(Options{Device: -1, AllowCPU: true, Validation: true, Profile: profile})
	if err != nil {
		if errors.Is(err, ErrNoVulkan) && os.Getenv("AGRPO_REQUIRE_VULKAN") != "1" {
			t.Skipf("no Vulkan device: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		msgs := c.Messages()
		c.Close()
		for _, m := range msgs {
			t.Errorf("validation: %s", m)
		}
	})
	return c
}

func floats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func bytesOf(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

func TestDevices(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		if errors.Is(err, ErrNoVulkan) && os.Getenv("AGRPO_REQUIRE_VULKAN") != "1" {
			t.Skipf("no Vulkan: %v", err)
		}
		t.Fatal(err)
	}
	for _, d := range devs {
		t.Log(d)
		if d.Name == "" || d.SubgroupSize == 0 || d.SharedMemoryBytes == 0 || d.MaxBindingBytes == 0 {
			t.Errorf("incomplete device info: %+v", d)
		}
	}
}

// TestCPUDeviceNeedsOptIn: a machine whose only device is a CPU implementation gets an error
// wrapping ErrNoVulkan from the automatic choice, not a crash and not lavapipe.
func TestCPUDeviceNeedsOptIn(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		t.Skipf("no Vulkan: %v", err)
	}
	for _, d := range devs {
		if d.Type != "cpu" {
			t.Skip("a GPU is present")
		}
	}
	c, err := Open(Options{Device: -1})
	if err == nil {
		c.Close()
		t.Fatal("Open chose a CPU device without AllowCPU")
	}
	if !errors.Is(err, ErrNoVulkan) || !strings.Contains(err.Error(), "AllowCPU") {
		t.Fatalf("error %q does not explain the missing GPU", err)
	}
}

// TestStream runs dependent dispatches, transfers and frees in one command buffer under
// validation: c = a + b, then c = c + c in place (a read-after-write hazard that needs a
// barrier), an upload, a fill and a download, with the profile on.
func TestStream(t *testing.T) {
	c := open(t, true)
	code, err := shaders.SPIRV("elementwise")
	if err != nil {
		t.Fatal(err)
	}
	add, err := c.Pipeline("elementwise", code, 3, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Pipeline("elementwise", code, 3, 8, 0); again != add {
		t.Error("pipeline not cached")
	}
	const n = 100003
	av, bv := make([]float32, n), make([]float32, n)
	for i := range av {
		av[i], bv[i] = float32(i), float32(2*i)
	}
	s := c.Stream()
	var bufs [3]Buffer
	for i := range bufs {
		if bufs[i], err = c.Alloc(4 * n); err != nil {
			t.Fatal(err)
		}
	}
	a, b, out := bufs[0].Slice(0, 4*n), bufs[1].Slice(0, 4*n), bufs[2].Slice(0, 4*n)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Upload(a, bytesOf(av)))
	must(s.Upload(b, bytesOf(bv)))
	push := make([]byte, 8)
	binary.LittleEndian.PutUint32(push, n)
	groups := [3]uint32{(n + 255) / 256, 1, 1}
	must(s.Dispatch(add, "add", groups, push, Write(out), Read(a), Read(b)))
	must(s.Dispatch(add, "add", groups, push, Write(out), Read(out), Read(out)))
	got := make([]byte, 4*n)
	must(s.Download(out, got))
	for i, x := range floats(got) {
		if want := 2 * (av[i] + bv[i]); x != want {
			t.Fatalf("out[%d] = %g, want %g", i, x, want)
		}
	}
	must(s.Fill(out.Slice(4, 8), math.Float32bits(7)))
	c.Free(bufs[0])
	must(s.Download(out.Slice(0, 16), got[:16]))
	if f := floats(got[:16]); f[0] != 0 || f[1] != 7 || f[2] != 7 || f[3] != 2*(av[3]+bv[3]) {
		t.Fatalf("fill: %v", f)
	}
	if prof := s.Profile(); c.Info().Timestamps && (len(prof) != 1 || prof[0].Count != 2 || prof[0].Total <= 0) {
		t.Errorf("profile %+v, want 2 timed add dispatches", prof)
	}
}

// TestLargeDownload: a download larger than a staging block (a one-off staging block) reads
// back what was uploaded (it used to read the block after Flush had destroyed it).
func TestLargeDownload(t *testing.T) {
	c := open(t, false)
	const n = stagingBlock/4 + 4099
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)*0.5 - 3
	}
	buf, err := c.Alloc(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free(buf)
	s := c.Stream()
	if err := s.Upload(buf, bytesOf(v)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4*n)
	for range 2 { // the second time after a batch has been recycled
		if err := s.Download(buf, got); err != nil {
			t.Fatal(err)
		}
		for i, x := range floats(got) {
			if x != v[i] {
				t.Fatalf("element %d of %d: %g, want %g", i, n, x, v[i])
			}
		}
	}
}

// TestUnalignedBinding: a binding at an offset that is not a multiple of the device's storage
// alignment runs through a scratch copy and is written back.
func TestUnalignedBinding(t *testing.T) {
	c := open(t, false)
	code, _ := shaders.SPIRV("elementwise")
	scale, err := c.Pipeline("elementwise", code, 3, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := c.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Stream()
	v := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if err := s.Upload(buf.Slice(0, 64), bytesOf(v)); err != nil {
		t.Fatal(err)
	}
	view := buf.Slice(4, 8) // elements 1 and 2
	push := make([]byte, 8)
	binary.LittleEndian.PutUint32(push, 2)
	binary.LittleEndian.PutUint32(push[4:], math.Float32bits(10))
	if err := s.Dispatch(scale, "scale", [3]uint32{1, 1, 1}, push, Write(view), Read(view), Read(view)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	if err := s.Download(buf.Slice(0, 16), got); err != nil {
		t.Fatal(err)
	}
	if f := floats(got); f[0] != 1 || f[1] != 20 || f[2] != 30 || f[3] != 4 {
		t.Fatalf("got %v, want [1 20 30 4]", f)
	}
}
