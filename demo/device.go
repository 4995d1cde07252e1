package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/vulkan"
)

// deviceHelp documents the -device flag every compute command takes.
const deviceHelp = "auto (a Vulkan GPU if present, else the CPU) | cpu | vulkan (the best Vulkan device: discrete > integrated > CPU-only such as lavapipe) | vulkan:N"

// openBackend opens the backend a -device value names. It returns the backend, a sentence saying
// which device it is and why, and a function that releases it. An unknown value is a usage
// error; "vulkan" without a usable device is an error, "auto" falls back to the CPU.
func openBackend(device string, stderr io.Writer) (core.Backend, string, func(), error) {
	noop := func() {}
	switch {
	case device == "cpu":
		b := cpu.New()
		return b, b.Name() + " (asked for with -device cpu)", noop, nil
	case device == "auto":
		vb, err := vulkan.New(vulkan.Options{Device: vulkan.Auto})
		if err == nil {
			return vb, vb.Name() + " (a Vulkan GPU was found)", vb.Close, nil
		}
		b := cpu.New()
		return b, fmt.Sprintf("%s (no Vulkan GPU: %v)", b.Name(), err), noop, nil
	case device == "vulkan" || strings.HasPrefix(device, "vulkan:"):
		idx := vulkan.Auto
		if rest, ok := strings.CutPrefix(device, "vulkan:"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 {
				fmt.Fprintf(stderr, "demo: -device %q: want vulkan:N with N a device index from `go run ./demo devices`\n", device)
				return nil, "", nil, errUsage
			}
			idx = n
		}
		vb, err := vulkan.New(vulkan.Options{Device: idx, AllowCPU: true})
		if err != nil {
			return nil, "", nil, refused(fmt.Errorf("-device %s: %w", device, err))
		}
		return vb, vb.Name() + " (asked for with -device " + device + ")", vb.Close, nil
	}
	fmt.Fprintf(stderr, "demo: -device %q: want %s\n", device, deviceHelp)
	return nil, "", nil, errUsage
}

func runDevices(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("devices", "devices", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lines, err := vulkan.Devices()
	if err != nil {
		fmt.Fprintf(stdout, "no Vulkan devices: %v\nCPU backend only: %s\n", err, cpuBackendLine())
		if errors.Is(err, vulkan.ErrUnavailable) {
			return nil
		}
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintf(stdout, "CPU backend: %s\n", cpuBackendLine())
	return nil
}

// cpuBackendLine describes the CPU backend: its threads, the GEMM kernel in use and those this
// CPU runs (the values AGRPO_GEMM_KERNEL accepts; .ci/run tests each).
func cpuBackendLine() string {
	return fmt.Sprintf("%s, GEMM kernel %s; GEMM kernels this CPU runs: %s",
		cpu.New().Name(), gemm.Kernel(), strings.Join(gemm.Kernels(), " "))
}
