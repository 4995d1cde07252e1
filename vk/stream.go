//go:build linux && cgo

package vk

import (
	"fmt"
	"sort"
	"time"
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

const (
	setsPerPool   = 256 // descriptor sets per pool; more pools are made as a batch needs them
	maxBindings   = 16  // storage buffers per descriptor set, at most
	maxTimestamps = 1024
)

// Binding is one storage buffer of a dispatch; Write marks the buffers the shader writes, which
// is what the stream needs to place barriers.
type Binding struct {
	Buf   Buffer
	Write bool
}

// Read binds a buffer the shader only reads.
func Read(b Buffer) Binding { return Binding{Buf: b} }

// Write binds a buffer the shader writes (and may read).
func Write(b Buffer) Binding { return Binding{Buf: b, Write: true} }

// OpTime is the device time spent under one dispatch label.
type OpTime struct {
	Label string
	Count int
	Total time.Duration
}

// byteRange is a range of one block, for hazard tracking.
type byteRange struct {
	blk    *block
	lo, hi uint64
}

func (r byteRange) overlaps(o byteRange) bool { return r.blk == o.blk && r.lo < o.hi && o.lo < r.hi }

// Stream records transfers and dispatches into one command buffer, with a barrier only where a
// command touches memory that an earlier unbarriered command wrote (or writes memory one read),
// and runs them all at Flush: one submit, one fence wait. Per-dispatch cost on lavapipe is ~40 µs
// and a submit ~60 µs, so batching is what keeps small ops affordable.
type Stream struct {
	c         *Context
	pool      vulkan.CommandPool
	cmd       vulkan.CommandBuffer
	fence     vulkan.Fence
	recording bool

	descPools []vulkan.DescriptorPool
	descPool  int // index of the pool in use
	descUsed  int // sets taken from it

	queries vulkan.QueryPool
	labels  []string // label of each timestamp pair recorded in this batch
	profile map[string]*OpTime

	reads, writes []byteRange // touched since the last barrier

	staging     []*block
	stagingIdx  int
	stagingUsed uint64
	oversized   []*block // one-off staging for transfers larger than a staging block

	pendingFree []Buffer // released after the next flush, when no recorded work can use them
	temps       []Buffer // scratch copies for unaligned bindings, released after the flush
	broken      error    // set when a submit failed: the device is lost
}

func newStream(c *Context) (*Stream, error) {
	s := &Stream{c: c, profile: map[string]*OpTime{}}
	cpci := &vulkan.CommandPoolCreateInfo{
		SType:            vulkan.StructureTypeCommandPoolCreateInfo,
		Flags:            vulkan.CommandPoolCreateFlags(vulkan.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: c.family,
	}
	var pool vulkan.CommandPool
	res := vulkan.CreateCommandPool(c.dev, cpci, nil, &pool)
	cpci.Free()
	if err := check(res, "vkCreateCommandPool"); err != nil {
		return nil, err
	}
	s.pool = pool
	cbai := &vulkan.CommandBufferAllocateInfo{SType: vulkan.StructureTypeCommandBufferAllocateInfo, CommandPool: pool, Level: vulkan.CommandBufferLevelPrimary, CommandBufferCount: 1}
	cmds := make([]vulkan.CommandBuffer, 1)
	res = vulkan.AllocateCommandBuffers(c.dev, cbai, cmds)
	cbai.Free()
	if err := check(res, "vkAllocateCommandBuffers"); err != nil {
		return nil, err
	}
	s.cmd = cmds[0]
	fci := &vulkan.FenceCreateInfo{SType: vulkan.StructureTypeFenceCreateInfo}
	var fence vulkan.Fence
	res = vulkan.CreateFence(c.dev, fci, nil, &fence)
	fci.Free()
	if err := check(res, "vkCreateFence"); err != nil {
		return nil, err
	}
	s.fence = fence
	if c.profile && c.info.Timestamps {
		qpci := &vulkan.QueryPoolCreateInfo{SType: vulkan.StructureTypeQueryPoolCreateInfo, QueryType: vulkan.QueryTypeTimestamp, QueryCount: maxTimestamps}
		var qp vulkan.QueryPool
		res = vulkan.CreateQueryPool(c.dev, qpci, nil, &qp)
		qpci.Free()
		if err := check(res, "vkCreateQueryPool"); err != nil {
			return nil, err
		}
		s.queries = qp
	}
	return s, nil
}

func (s *Stream) destroy() {
	dev := s.c.dev
	for _, p := range s.descPools {
		vulkan.DestroyDescriptorPool(dev, p, nil)
	}
	for _, b := range append(s.staging, s.oversized...) {
		b.destroy(dev)
	}
	if s.queries != nil {
		vulkan.DestroyQueryPool(dev, s.queries, nil)
	}
	if s.fence != nil {
		vulkan.DestroyFence(dev, s.fence, nil)
	}
	if s.pool != nil {
		vulkan.DestroyCommandPool(dev, s.pool, nil)
	}
}

// Stream returns the context's command stream.
func (c *Context) Stream() *Stream { return c.stream }

// begin starts recording if the stream is idle.
func (s *Stream) begin() error {
	if s.broken != nil {
		return s.broken
	}
	if s.recording {
		return nil
	}
	cbbi := &vulkan.CommandBufferBeginInfo{SType: vulkan.StructureTypeCommandBufferBeginInfo, Flags: vulkan.CommandBufferUsageFlags(vulkan.CommandBufferUsageOneTimeSubmitBit)}
	res := vulkan.BeginCommandBuffer(s.cmd, cbbi)
	cbbi.Free()
	if err := check(res, "vkBeginCommandBuffer"); err != nil {
		return err
	}
	if s.queries != nil {
		vulkan.CmdResetQueryPool(s.cmd, s.queries, 0, maxTimestamps)
	}
	s.recording = true
	return nil
}

const (
	allStages   = vulkan.PipelineStageFlags(vulkan.PipelineStageComputeShaderBit | vulkan.PipelineStageTransferBit)
	allAccesses = vulkan.AccessFlags(vulkan.AccessShaderReadBit | vulkan.AccessShaderWriteBit | vulkan.AccessTransferReadBit | vulkan.AccessTransferWriteBit)
)

// hazard records a command's reads and writes, first placing a barrier if they conflict with
// what earlier commands since the last barrier wrote (read-after-write, write-after-write) or
// read (write-after-read).
func (s *Stream) hazard(reads, writes []byteRange) {
	conflict := false
	for _, r := range reads {
		for _, w := range s.writes {
			conflict = conflict || r.overlaps(w)
		}
	}
	for _, w := range writes {
		for _, o := range s.writes {
			conflict = conflict || w.overlaps(o)
		}
		for _, o := range s.reads {
			conflict = conflict || w.overlaps(o)
		}
	}
	if conflict {
		cmdMemoryBarrier(s.cmd, allStages, allStages, allAccesses, allAccesses)
		s.reads, s.writes = s.reads[:0], s.writes[:0]
	}
	s.reads = append(s.reads, reads...)
	s.writes = append(s.writes, writes...)
}

func rangeOf(b Buffer) byteRange { return byteRange{b.blk, b.Offset, b.Offset + b.Size} }

// Fill sets every 32-bit word of dst to word.
func (s *Stream) Fill(dst Buffer, word uint32) error {
	if err := s.begin(); err != nil {
		return err
	}
	s.hazard(nil, []byteRange{rangeOf(dst)})
	vulkan.CmdFillBuffer(s.cmd, dst.blk.buf, vulkan.DeviceSize(dst.Offset), vulkan.DeviceSize(dst.Size), word)
	return nil
}

// Copy copies src into dst (the smaller size of the two).
func (s *Stream) Copy(dst, src Buffer) error {
	if err := s.begin(); err != nil {
		return err
	}
	n := min(dst.Size, src.Size)
	s.hazard([]byteRange{rangeOf(src.Slice(0, n))}, []byteRange{rangeOf(dst.Slice(0, n))})
	s.copyRaw(dst.blk, dst.Offset, src.blk, src.Offset, n)
	return nil
}

func (s *Stream) copyRaw(dst *block, dstOff uint64, src *block, srcOff, n uint64) {
	cmdCopyBuffer(s.cmd, src.buf, dst.buf, srcOff, dstOff, n)
}

// stage returns n bytes of host-visible staging memory for this batch.
func (s *Stream) stage(n uint64) (*block, uint64, error) {
	n = (n + allocAlign - 1) &^ (allocAlign - 1)
	if n > stagingBlock {
		b, err := s.c.mem.newBlock(n, true)
		if err != nil {
			return nil, 0, err
		}
		s.oversized = append(s.oversized, b)
		return b, 0, nil
	}
	for {
		if s.stagingIdx == len(s.staging) {
			b, err := s.c.mem.newBlock(stagingBlock, true)
			if err != nil {
				return nil, 0, err
			}
			s.staging = append(s.staging, b)
		}
		if s.stagingUsed+n <= stagingBlock {
			off := s.stagingUsed
			s.stagingUsed += n
			return s.staging[s.stagingIdx], off, nil
		}
		s.stagingIdx++
		s.stagingUsed = 0
	}
}

// Upload copies data into dst through staging memory; the copy is recorded in order with the
// other commands, so data is captured now and lands when the stream runs.
func (s *Stream) Upload(dst Buffer, data []byte) error {
	if uint64(len(data)) > dst.Size {
		return fmt.Errorf("vk: upload of %d bytes into a %d-byte buffer", len(data), dst.Size)
	}
	if err := s.begin(); err != nil {
		return err
	}
	sb, off, err := s.stage(uint64(len(data)))
	if err != nil {
		return err
	}
	copy(sb.bytes(off, uint64(len(data))), data)
	s.hazard(nil, []byteRange{rangeOf(dst.Slice(0, uint64(len(data))))})
	s.copyRaw(dst.blk, dst.Offset, sb, off, uint64(len(data)))
	return nil
}

// Download runs everything recorded so far and copies src into dst.
func (s *Stream) Download(src Buffer, dst []byte) error {
	n := uint64(len(dst))
	if n > src.Size {
		return fmt.Errorf("vk: download of %d bytes from a %d-byte buffer", n, src.Size)
	}
	if err := s.begin(); err != nil {
		return err
	}
	sb, off, err := s.stage(n)
	if err != nil {
		return err
	}
	s.hazard([]byteRange{rangeOf(src.Slice(0, n))}, nil)
	s.copyRaw(sb, off, src.blk, src.Offset, n)
	// Flush destroys the batch's one-off staging blocks: an oversized one holding this download
	// leaves that list until its bytes are read.
	oversized := len(s.oversized) > 0 && s.oversized[len(s.oversized)-1] == sb
	if oversized {
		s.oversized = s.oversized[:len(s.oversized)-1]
	}
	if err := s.Flush(); err != nil {
		if oversized { // the failed batch may still use it: it goes with the batch, as before
			s.oversized = append(s.oversized, sb)
		}
		return err
	}
	// Staging memory is reused only by later recordings, so it still holds the data here.
	copy(dst, sb.bytes(off, n))
	if oversized {
		sb.destroy(s.c.dev)
	}
	return nil
}

// Dispatch records one dispatch of p over groups workgroups with the given push constants
// (len(push) must equal p.PushSize) and storage buffers (one per binding of p). The label names
// the dispatch in the profile.
func (s *Stream) Dispatch(p *Pipeline, label string, groups [3]uint32, push []byte, binds ...Binding) error {
	if err := s.checkDispatch(p, label, groups, push, binds); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	bound, writeBack, err := s.alignBindings(binds)
	if err != nil {
		return err
	}
	var reads, writes []byteRange
	for i, b := range binds {
		if b.Write {
			writes = append(writes, rangeOf(bound[i]))
		} else {
			reads = append(reads, rangeOf(bound[i]))
		}
	}
	s.hazard(reads, writes)
	if err := s.record(p, label, groups, push, bound); err != nil {
		return err
	}
	for _, wb := range writeBack {
		if err := s.Copy(wb[0], wb[1]); err != nil {
			return err
		}
	}
	if s.queries != nil && 2*len(s.labels) == maxTimestamps {
		return s.Flush() // the query pool is full
	}
	return nil
}

// checkDispatch refuses a dispatch that does not fit the pipeline or the device's limits.
func (s *Stream) checkDispatch(p *Pipeline, label string, groups [3]uint32, push []byte, binds []Binding) error {
	if len(binds) != p.Bindings || len(push) != p.PushSize || len(binds) > maxBindings {
		return fmt.Errorf("vk: dispatch %s: %d bindings and %d push bytes, pipeline wants %d and %d", label, len(binds), len(push), p.Bindings, p.PushSize)
	}
	for i, g := range groups {
		if g == 0 || g > s.c.info.MaxWorkgroups[i] {
			return fmt.Errorf("vk: dispatch %s: %d workgroups in dimension %d (limit %d)", label, g, i, s.c.info.MaxWorkgroups[i])
		}
	}
	for i, b := range binds {
		if b.Buf.Size > uint64(s.c.info.MaxBindingBytes) {
			return fmt.Errorf("vk: dispatch %s: binding %d spans %d MiB, over the device's %d MiB", label, i, b.Buf.Size>>20, s.c.info.MaxBindingBytes>>20)
		}
	}
	return nil
}

// alignBindings returns the buffers to bind: bindings must start at
// minStorageBufferOffsetAlignment, so an unaligned view (a row range) runs on an aligned scratch
// copy, which writeBack lists (view, copy) when the shader writes it.
func (s *Stream) alignBindings(binds []Binding) (bound []Buffer, writeBack [][2]Buffer, err error) {
	align := max(s.c.info.MinStorageAlignment, 4)
	bound = make([]Buffer, len(binds))
	for i, b := range binds {
		bound[i] = b.Buf
		if b.Buf.Offset%align == 0 {
			continue
		}
		tmp, err := s.c.mem.alloc(b.Buf.Size)
		if err != nil {
			return nil, nil, err
		}
		tmp = tmp.Slice(0, b.Buf.Size)
		s.temps = append(s.temps, tmp)
		if err := s.Copy(tmp, b.Buf); err != nil {
			return nil, nil, err
		}
		bound[i] = tmp
		if b.Write {
			writeBack = append(writeBack, [2]Buffer{b.Buf, tmp})
		}
	}
	return bound, writeBack, nil
}

// record records the dispatch itself: its descriptor set, pipeline, push constants and, when
// profiling, the timestamps around it.
func (s *Stream) record(p *Pipeline, label string, groups [3]uint32, push []byte, bound []Buffer) error {
	set, err := s.descriptorSet(p)
	if err != nil {
		return err
	}
	updateStorageBuffers(s.c.dev, set, bound)
	vulkan.CmdBindPipeline(s.cmd, vulkan.PipelineBindPointCompute, p.pipe)
	vulkan.CmdBindDescriptorSets(s.cmd, vulkan.PipelineBindPointCompute, p.layout, 0, 1, []vulkan.DescriptorSet{set}, 0, nil)
	if len(push) > 0 {
		vulkan.CmdPushConstants(s.cmd, p.layout, vulkan.ShaderStageFlags(vulkan.ShaderStageComputeBit), 0, uint32(len(push)), unsafe.Pointer(&push[0]))
	}
	if s.queries == nil {
		vulkan.CmdDispatch(s.cmd, groups[0], groups[1], groups[2])
		return nil
	}
	q := uint32(2 * len(s.labels))
	vulkan.CmdWriteTimestamp(s.cmd, vulkan.PipelineStageTopOfPipeBit, s.queries, q)
	vulkan.CmdDispatch(s.cmd, groups[0], groups[1], groups[2])
	vulkan.CmdWriteTimestamp(s.cmd, vulkan.PipelineStageComputeShaderBit, s.queries, q+1)
	s.labels = append(s.labels, label)
	return nil
}

// descriptorSet takes a set for p from the batch's pools, making a pool when they are full.
func (s *Stream) descriptorSet(p *Pipeline) (vulkan.DescriptorSet, error) {
	if s.descPool < len(s.descPools) && s.descUsed == setsPerPool {
		s.descPool++
		s.descUsed = 0
	}
	if s.descPool == len(s.descPools) {
		dpci := &vulkan.DescriptorPoolCreateInfo{
			SType:         vulkan.StructureTypeDescriptorPoolCreateInfo,
			MaxSets:       setsPerPool,
			PoolSizeCount: 1,
			PPoolSizes:    []vulkan.DescriptorPoolSize{{Type: vulkan.DescriptorTypeStorageBuffer, DescriptorCount: setsPerPool * maxBindings}},
		}
		var pool vulkan.DescriptorPool
		res := vulkan.CreateDescriptorPool(s.c.dev, dpci, nil, &pool)
		dpci.Free()
		if err := check(res, "vkCreateDescriptorPool"); err != nil {
			return nil, err
		}
		s.descPools = append(s.descPools, pool)
		s.descUsed = 0
	}
	dsai := &vulkan.DescriptorSetAllocateInfo{
		SType:              vulkan.StructureTypeDescriptorSetAllocateInfo,
		DescriptorPool:     s.descPools[s.descPool],
		DescriptorSetCount: 1,
		PSetLayouts:        []vulkan.DescriptorSetLayout{p.setLayout},
	}
	var set vulkan.DescriptorSet
	res := vulkan.AllocateDescriptorSets(s.c.dev, dsai, &set)
	dsai.Free()
	if err := check(res, "vkAllocateDescriptorSets"); err != nil {
		return nil, err
	}
	s.descUsed++
	return set, nil
}

// Flush submits everything recorded, waits for it, and recycles the batch's resources.
func (s *Stream) Flush() error {
	if s.broken != nil {
		return s.broken
	}
	if !s.recording {
		s.recycle()
		return nil
	}
	s.recording = false
	// Make device writes visible to the host reads that follow the fence wait.
	cmdMemoryBarrier(s.cmd, allStages, vulkan.PipelineStageFlags(vulkan.PipelineStageHostBit), allAccesses, vulkan.AccessFlags(vulkan.AccessHostReadBit))
	if err := check(vulkan.EndCommandBuffer(s.cmd), "vkEndCommandBuffer"); err != nil {
		s.broken = err
		return err
	}
	err := check(queueSubmit(s.c.queue, s.cmd, s.fence), "vkQueueSubmit")
	if err == nil {
		err = check(vulkan.WaitForFences(s.c.dev, 1, []vulkan.Fence{s.fence}, vulkan.True, ^uint64(0)), "vkWaitForFences")
	}
	if err == nil {
		err = check(vulkan.ResetFences(s.c.dev, 1, []vulkan.Fence{s.fence}), "vkResetFences")
	}
	if err != nil {
		s.broken = fmt.Errorf("device failure, the stream cannot continue: %w", err)
		return s.broken
	}
	if err := s.readTimestamps(); err != nil {
		return err
	}
	vulkan.ResetCommandBuffer(s.cmd, 0)
	s.recycle()
	return nil
}

// recycle returns the batch's descriptor sets, staging and deferred frees.
func (s *Stream) recycle() {
	for _, p := range s.descPools[:min(s.descPool+1, len(s.descPools))] {
		vulkan.ResetDescriptorPool(s.c.dev, p, 0)
	}
	s.descPool, s.descUsed = 0, 0
	s.stagingIdx, s.stagingUsed = 0, 0
	for _, b := range s.oversized {
		b.destroy(s.c.dev)
	}
	s.oversized = s.oversized[:0]
	for _, b := range s.pendingFree {
		s.c.mem.release(b)
	}
	for _, b := range s.temps {
		s.c.mem.release(b)
	}
	s.pendingFree, s.temps = s.pendingFree[:0], s.temps[:0]
	s.reads, s.writes = s.reads[:0], s.writes[:0]
}

func (s *Stream) readTimestamps() error {
	if len(s.labels) == 0 {
		return nil
	}
	n := 2 * len(s.labels)
	ts := make([]uint64, n)
	res := vulkan.GetQueryPoolResults(s.c.dev, s.queries, 0, uint32(n), uint(8*n), unsafe.Pointer(&ts[0]), 8,
		vulkan.QueryResultFlags(vulkan.QueryResult64Bit|vulkan.QueryResultWaitBit))
	if err := check(res, "vkGetQueryPoolResults"); err != nil {
		return err
	}
	for i, label := range s.labels {
		ot := s.profile[label]
		if ot == nil {
			ot = &OpTime{Label: label}
			s.profile[label] = ot
		}
		ot.Count++
		ot.Total += time.Duration(float64(ts[2*i+1]-ts[2*i]) * float64(s.c.info.TimestampPeriod))
	}
	s.labels = s.labels[:0]
	return nil
}

// Profile returns device time per dispatch label since the last reset, largest first. It is
// empty unless the context was opened with Options.Profile on a device with timestamps.
func (s *Stream) Profile() []OpTime {
	out := make([]OpTime, 0, len(s.profile))
	for _, ot := range s.profile {
		out = append(out, *ot)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

// ResetProfile clears the accumulated profile.
func (s *Stream) ResetProfile() { s.profile = map[string]*OpTime{} }
