// Package vk is a thin, explicit Vulkan compute runtime over github.com/vulkan-go/vulkan: its own
// loader of libvulkan.so.1, device listing and choice, a sub-allocator for device memory with
// host-visible staging, compute pipelines from SPIR-V (specialization and push constants, created
// once and cached), command streams that record many dispatches with the barriers they need and
// submit once, per-dispatch timestamps, and validation layers on request.
//
// It knows nothing about machine learning; core/vulkan builds the tensor backend on it. The
// binding's pitfalls and their fixes (NUL-terminated strings, sType, Deref, cgo pointer rules, C
// copies freed by finalizers during the call, a single debug callback per process) are listed in
// vk/README.md and handled here so that callers never see them.
//
// The runtime needs cgo on Linux; elsewhere the package is empty and core/vulkan reports that
// Vulkan is unavailable.
package vk
