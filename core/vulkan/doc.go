// Package vulkan is the core.Backend on Vulkan compute shaders (package vk for the runtime,
// package shaders for the code). Tensors live in device memory; every op is recorded into one
// command stream with the barriers it needs and runs at Sync or at the next Download, which is
// the only time the host waits. Every op is a shader, the sampler's unmasking step included, so
// training and sampling loops never read tensors back except where the caller asks.
//
// It needs cgo on Linux and a Vulkan loader with a driver at run time; elsewhere, and on
// machines without Vulkan, New returns an error wrapping ErrUnavailable.
package vulkan

import (
	"errors"
	"time"
)

// ErrUnavailable is wrapped by New's error when this machine or build has no usable Vulkan.
var ErrUnavailable = errors.New("vulkan backend unavailable")

// Auto lets New choose the device: a discrete GPU, else an integrated one, else (with
// Options.AllowCPU) a CPU implementation such as lavapipe.
const Auto = -1

// Options configure New.
type Options struct {
	// Device is an index from Devices, or Auto.
	Device int
	// AllowCPU lets Auto choose a CPU implementation of Vulkan (lavapipe): correct, not fast.
	AllowCPU bool
	// Validation turns on the Khronos validation layers (also AGRPO_VK_VALIDATION=1); Messages
	// returns what they reported.
	Validation bool
	// Profile times every dispatch on the device; Profile returns the times per op.
	Profile bool
}

// OpTime is the device time spent in one kind of dispatch, as Backend.Profile reports it.
type OpTime struct {
	Op    string
	Count int
	Total time.Duration
}
