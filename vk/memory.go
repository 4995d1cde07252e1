//go:build linux && cgo

package vk

import (
	"fmt"
	"sort"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

const (
	// blockSize is the size of one device allocation that tensors are carved from: few large
	// allocations (drivers limit their number, and each is slow), each within the 128 MiB that
	// one storage binding may span on lavapipe (and that the Vulkan spec guarantees everywhere).
	blockSize = 64 << 20
	// allocAlign aligns every sub-allocation to the largest minStorageBufferOffsetAlignment in
	// the wild, so a tensor can always be bound at its own offset.
	allocAlign = 256
	// stagingBlock is the size of one host-visible staging allocation.
	stagingBlock = 16 << 20
)

// block is one VkDeviceMemory with one VkBuffer spanning it.
type block struct {
	mem    vk.DeviceMemory
	buf    vk.Buffer
	size   uint64
	mapped unsafe.Pointer // non-nil for host-visible blocks
	free   []span         // free ranges, sorted by offset (device blocks only)
	// dedicated blocks hold one large buffer and are destroyed when it is freed.
	dedicated bool
}

type span struct{ off, size uint64 }

// Buffer is a byte range of device memory, as the allocator hands it out or a slice of one.
type Buffer struct {
	blk          *block
	Offset, Size uint64
}

// Slice returns the sub-range [off, off+size) of b.
func (b Buffer) Slice(off, size uint64) Buffer {
	if off+size > b.Size {
		panic(fmt.Sprintf("vk: slice [%d,%d) of a %d-byte buffer", off, off+size, b.Size))
	}
	return Buffer{blk: b.blk, Offset: b.Offset + off, Size: size}
}

// allocator sub-allocates device-local blocks (first fit, coalescing on free).
type allocator struct {
	c                    *Context
	blocks               []*block
	deviceType, hostType uint32
}

func newAllocator(c *Context) *allocator {
	a := &allocator{c: c}
	a.deviceType = a.memoryType(vk.MemoryPropertyFlags(vk.MemoryPropertyDeviceLocalBit), 0)
	host := vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit)
	// Cached host memory makes downloads fast; any coherent host-visible type will do.
	a.hostType = a.memoryType(host|vk.MemoryPropertyFlags(vk.MemoryPropertyHostCachedBit), host)
	return a
}

// memoryType returns the first type with all of want, else the first with all of fallback
// (fallback 0 accepts any type).
func (a *allocator) memoryType(want, fallback vk.MemoryPropertyFlags) uint32 {
	mp := a.c.memProps
	for _, flags := range []vk.MemoryPropertyFlags{want, fallback} {
		for i := uint32(0); i < mp.MemoryTypeCount; i++ {
			if mp.MemoryTypes[i].PropertyFlags&flags == flags {
				return i
			}
		}
	}
	return 0
}

// newBlock creates a buffer of size bytes bound to fresh memory of the given type.
func (a *allocator) newBlock(size uint64, host bool) (*block, error) {
	dev := a.c.dev
	bci := &vk.BufferCreateInfo{
		SType:       vk.StructureTypeBufferCreateInfo,
		Size:        vk.DeviceSize(size),
		Usage:       vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit),
		SharingMode: vk.SharingModeExclusive,
	}
	var buf vk.Buffer
	res := vk.CreateBuffer(dev, bci, nil, &buf)
	bci.Free()
	if err := check(res, fmt.Sprintf("vkCreateBuffer (%d bytes)", size)); err != nil {
		return nil, err
	}
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(dev, buf, &req)
	req.Deref()
	typ := a.deviceType
	if host {
		typ = a.hostType
	}
	if req.MemoryTypeBits&(1<<typ) == 0 {
		vk.DestroyBuffer(dev, buf, nil)
		return nil, fmt.Errorf("vk: memory type %d cannot back a storage buffer (allowed mask 0x%x)", typ, req.MemoryTypeBits)
	}
	mai := &vk.MemoryAllocateInfo{SType: vk.StructureTypeMemoryAllocateInfo, AllocationSize: req.Size, MemoryTypeIndex: typ}
	var mem vk.DeviceMemory
	res = vk.AllocateMemory(dev, mai, nil, &mem)
	mai.Free()
	if err := check(res, fmt.Sprintf("vkAllocateMemory (%d MiB)", size>>20)); err != nil {
		vk.DestroyBuffer(dev, buf, nil)
		return nil, err
	}
	if err := check(vk.BindBufferMemory(dev, buf, mem, 0), "vkBindBufferMemory"); err != nil {
		vk.DestroyBuffer(dev, buf, nil)
		vk.FreeMemory(dev, mem, nil)
		return nil, err
	}
	b := &block{mem: mem, buf: buf, size: size}
	if host {
		var p unsafe.Pointer
		if err := check(vk.MapMemory(dev, mem, 0, vk.DeviceSize(size), 0, &p), "vkMapMemory"); err != nil {
			b.destroy(dev)
			return nil, err
		}
		b.mapped = p
	}
	return b, nil
}

func (b *block) destroy(dev vk.Device) {
	if b.mapped != nil {
		vk.UnmapMemory(dev, b.mem)
	}
	vk.DestroyBuffer(dev, b.buf, nil)
	vk.FreeMemory(dev, b.mem, nil)
}

// bytes views n bytes of a host-visible block from offset off.
func (b *block) bytes(off, n uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(b.mapped, off)), n)
}

// alloc returns size bytes of device-local memory (contents undefined).
func (a *allocator) alloc(size uint64) (Buffer, error) {
	size = (max(size, 4) + allocAlign - 1) &^ (allocAlign - 1)
	if size > blockSize/2 {
		// Large tensors get a dedicated allocation rather than fragmenting the blocks.
		b, err := a.newBlock(size, false)
		if err != nil {
			return Buffer{}, err
		}
		b.dedicated = true
		return Buffer{blk: b, Size: size}, nil
	}
	for _, b := range a.blocks {
		if off, ok := b.take(size); ok {
			return Buffer{blk: b, Offset: off, Size: size}, nil
		}
	}
	b, err := a.newBlock(blockSize, false)
	if err != nil {
		return Buffer{}, err
	}
	b.free = []span{{0, blockSize}}
	a.blocks = append(a.blocks, b)
	off, _ := b.take(size)
	return Buffer{blk: b, Offset: off, Size: size}, nil
}

// take carves size bytes from the first free span that holds them.
func (b *block) take(size uint64) (uint64, bool) {
	for i, s := range b.free {
		if s.size < size {
			continue
		}
		if s.size == size {
			b.free = append(b.free[:i], b.free[i+1:]...)
		} else {
			b.free[i] = span{s.off + size, s.size - size}
		}
		return s.off, true
	}
	return 0, false
}

// release returns a whole allocation (as alloc returned it) to its block.
func (a *allocator) release(buf Buffer) {
	b := buf.blk
	if b.dedicated {
		b.destroy(a.c.dev)
		return
	}
	i := sort.Search(len(b.free), func(i int) bool { return b.free[i].off > buf.Offset })
	b.free = append(b.free, span{})
	copy(b.free[i+1:], b.free[i:])
	b.free[i] = span{buf.Offset, buf.Size}
	// Coalesce with the neighbours.
	if i+1 < len(b.free) && b.free[i].off+b.free[i].size == b.free[i+1].off {
		b.free[i].size += b.free[i+1].size
		b.free = append(b.free[:i+1], b.free[i+2:]...)
	}
	if i > 0 && b.free[i-1].off+b.free[i-1].size == b.free[i].off {
		b.free[i-1].size += b.free[i].size
		b.free = append(b.free[:i], b.free[i+1:]...)
	}
}

func (a *allocator) destroy() {
	for _, b := range a.blocks {
		b.destroy(a.c.dev)
	}
	a.blocks = nil
}

// Alloc returns size bytes of device-local memory with undefined contents. The memory is
// carved from large blocks; Free returns it.
func (c *Context) Alloc(size uint64) (Buffer, error) {
	if c.dev == nil {
		return Buffer{}, errClosed
	}
	return c.mem.alloc(size)
}

// Free returns memory from Alloc. Work already recorded may still use it, so it is reused
// only after the stream's next flush.
func (c *Context) Free(b Buffer) {
	if b.blk == nil || c.dev == nil {
		return
	}
	c.stream.pendingFree = append(c.stream.pendingFree, b)
}
