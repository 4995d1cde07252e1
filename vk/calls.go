//go:build linux && cgo

package vk

/*
#include <stdint.h>

// The registry layouts (64-bit: every handle is pointer-sized) of the structures that the calls
// made for every dispatch and every batch read, declared by hand like those in pipeline.go.
typedef struct { void* buffer; uint64_t offset, range; } agrpo_buffer_info;
typedef struct {
	int32_t sType; const void* pNext; void* dstSet; uint32_t dstBinding, dstArrayElement, descriptorCount;
	int32_t descriptorType; const void* pImageInfo; const agrpo_buffer_info* pBufferInfo; const void* pTexelBufferView;
} agrpo_write_set;
typedef struct { uint64_t srcOffset, dstOffset, size; } agrpo_buffer_copy;
typedef struct { int32_t sType; const void* pNext; uint32_t srcAccessMask, dstAccessMask; } agrpo_memory_barrier;
typedef struct {
	int32_t sType; const void* pNext; uint32_t waitSemaphoreCount; const void* pWaitSemaphores; const void* pWaitDstStageMask;
	uint32_t commandBufferCount; void* const* pCommandBuffers; uint32_t signalSemaphoreCount; const void* pSignalSemaphores;
} agrpo_submit_info;

typedef void (*agrpo_update_sets_fn)(void*, uint32_t, const agrpo_write_set*, uint32_t, const void*);
typedef void (*agrpo_copy_fn)(void*, void*, void*, uint32_t, const agrpo_buffer_copy*);
typedef void (*agrpo_barrier_fn)(void*, uint32_t, uint32_t, uint32_t, uint32_t, const agrpo_memory_barrier*, uint32_t, const void*, uint32_t, const void*);
typedef int32_t (*agrpo_submit_fn)(void*, uint32_t, const agrpo_submit_info*, void*);

enum { agrpo_max_bindings = 16 };

// agrpo_update_storage_buffers points bindings 0..n−1 of set at the buffer ranges given.
static void agrpo_update_storage_buffers(void* fn, void* dev, void* set, uint32_t n, const uint64_t* bufs, const uint64_t* offs, const uint64_t* ranges) {
	agrpo_buffer_info info[agrpo_max_bindings];
	agrpo_write_set w[agrpo_max_bindings];
	for (uint32_t i = 0; i < n; i++) {
		info[i] = (agrpo_buffer_info){ (void*)(uintptr_t)bufs[i], offs[i], ranges[i] };
		// VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
		w[i] = (agrpo_write_set){ 35, 0, set, i, 0, 1, 7, 0, &info[i], 0 };
	}
	((agrpo_update_sets_fn)fn)(dev, n, w, 0, 0);
}

static void agrpo_cmd_copy_buffer(void* fn, void* cmd, void* src, void* dst, uint64_t srcOff, uint64_t dstOff, uint64_t size) {
	agrpo_buffer_copy r = { srcOff, dstOff, size };
	((agrpo_copy_fn)fn)(cmd, src, dst, 1, &r);
}

static void agrpo_cmd_memory_barrier(void* fn, void* cmd, uint32_t srcStage, uint32_t dstStage, uint32_t srcAccess, uint32_t dstAccess) {
	agrpo_memory_barrier b = { 46, 0, srcAccess, dstAccess }; // VK_STRUCTURE_TYPE_MEMORY_BARRIER
	((agrpo_barrier_fn)fn)(cmd, srcStage, dstStage, 0, 1, &b, 0, 0, 0, 0);
}

static int32_t agrpo_queue_submit(void* fn, void* queue, void* cmd, void* fence) {
	agrpo_submit_info si = { 4, 0, 0, 0, 0, 1, &cmd, 0, 0 }; // VK_STRUCTURE_TYPE_SUBMIT_INFO
	return ((agrpo_submit_fn)fn)(queue, 1, &si, fence);
}
*/
import "C"

import (
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// The calls below take arrays of structures and run for every dispatch or batch. vulkan-go
// converts such arrays into C memory that a finalizer on a local variable frees, and that
// finalizer may run while the driver is still reading it (see createComputePipeline); under load
// vkUpdateDescriptorSets crashed that way (1 of 21 parallel training runs on an H200). So these
// build their structures in C and call the loader's entry points (deviceCalls, loader.go).

// handle reinterprets a vulkan-go handle (a pointer-sized value) as a C pointer.
func handle[T any](h T) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&h)) }

// updateStorageBuffers points bindings 0..len(bufs)−1 of set at the given buffer ranges; there
// are at most maxBindings (Dispatch checks).
func updateStorageBuffers(dev vk.Device, set vk.DescriptorSet, bufs []Buffer) {
	if len(bufs) == 0 {
		return
	}
	var hs, offs, ranges [maxBindings]C.uint64_t
	for i, b := range bufs {
		hs[i], offs[i], ranges[i] = C.uint64_t(uintptr(handle(b.blk.buf))), C.uint64_t(b.Offset), C.uint64_t(b.Size)
	}
	// Go memory holding no Go pointers, read by C during the call only: allowed by cgo.
	C.agrpo_update_storage_buffers(deviceCalls.updateDescriptorSets, handle(dev), handle(set), C.uint32_t(len(bufs)),
		&hs[0], &offs[0], &ranges[0])
}

// The C side's arrays hold maxBindings entries: a compile error if the two ever differ.
var _ = [1]struct{}{}[C.agrpo_max_bindings-maxBindings]

// cmdCopyBuffer records one buffer-to-buffer copy of n bytes.
func cmdCopyBuffer(cmd vk.CommandBuffer, src, dst vk.Buffer, srcOff, dstOff, n uint64) {
	C.agrpo_cmd_copy_buffer(deviceCalls.cmdCopyBuffer, handle(cmd), handle(src), handle(dst),
		C.uint64_t(srcOff), C.uint64_t(dstOff), C.uint64_t(n))
}

// cmdMemoryBarrier records one global memory barrier.
func cmdMemoryBarrier(cmd vk.CommandBuffer, srcStage, dstStage vk.PipelineStageFlags, srcAccess, dstAccess vk.AccessFlags) {
	C.agrpo_cmd_memory_barrier(deviceCalls.cmdPipelineBarrier, handle(cmd), C.uint32_t(srcStage), C.uint32_t(dstStage),
		C.uint32_t(srcAccess), C.uint32_t(dstAccess))
}

// queueSubmit submits one command buffer that signals fence when done.
func queueSubmit(queue vk.Queue, cmd vk.CommandBuffer, fence vk.Fence) vk.Result {
	return vk.Result(C.agrpo_queue_submit(deviceCalls.queueSubmit, handle(queue), handle(cmd), handle(fence)))
}
