//go:build linux && cgo

package vulkan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/half"
	"github.com/dllmrl/agrpo/shaders"
	"github.com/dllmrl/agrpo/vk"
)

// Backend is the Vulkan implementation of core.Backend. It is safe for use by one goroutine at
// a time. Close releases the device.
type Backend struct {
	ctx *vk.Context
	s   *vk.Stream
	// err is the first device or recording failure; later ops are skipped, Sync returns it and
	// Download panics with it (its signature has no error to return).
	err  error
	rope map[ropeKey]*core.Tensor
	// placeholder is what unused() binds.
	placeholder vk.Buffer
}

// storage is a tensor's device memory; views (Reshape, Rows) share it.
type storage struct {
	buf   vk.Buffer
	freed bool
}

// New opens a device and returns a backend on it.
func New(opts Options) (*Backend, error) {
	ctx, err := vk.Open(vk.Options{Device: opts.Device, AllowCPU: opts.AllowCPU, Validation: opts.Validation, Profile: opts.Profile})
	if err != nil {
		if errors.Is(err, vk.ErrNoVulkan) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, err
	}
	placeholder, err := ctx.Alloc(16)
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("vulkan: allocating the unused-binding stand-in: %w", err)
	}
	return &Backend{ctx: ctx, s: ctx.Stream(), rope: map[ropeKey]*core.Tensor{}, placeholder: placeholder}, nil
}

// Devices lists the Vulkan devices, one line each (index, name, type, vendor, driver, memory,
// subgroup size, shared memory, optional features).
func Devices() ([]string, error) {
	infos, err := vk.Devices()
	if err != nil {
		if errors.Is(err, vk.ErrNoVulkan) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, err
	}
	lines := make([]string, len(infos))
	for i, d := range infos {
		lines[i] = d.String()
	}
	return lines, nil
}

// Close waits for the device and releases it; the backend and its tensors are unusable after.
func (b *Backend) Close() { b.ctx.Close() }

// Messages returns the validation layers' messages so far (none without Options.Validation).
func (b *Backend) Messages() []string { return b.ctx.Messages() }

// Profile returns device time per op since the last ResetProfile, largest first (empty unless
// opened with Options.Profile on a device with timestamps).
func (b *Backend) Profile() []OpTime {
	var out []OpTime
	for _, t := range b.s.Profile() {
		out = append(out, OpTime{Op: t.Label, Count: t.Count, Total: t.Total})
	}
	return out
}

// ResetProfile clears the profile.
func (b *Backend) ResetProfile() { b.s.ResetProfile() }

// Device is the device's index in Devices' list and its type: "discrete", "integrated",
// "virtual", "cpu" (lavapipe) or "other".
func (b *Backend) Device() (index int, kind string) {
	info := b.ctx.Info()
	return info.Index, info.Type
}

// MemoryBytes is the size of the device's largest device-local heap, the memory a run's plan
// is checked against (rl.DeviceMemory).
func (b *Backend) MemoryBytes() uint64 { return b.ctx.Info().MemoryBytes }

// Name identifies the backend and device.
func (b *Backend) Name() string {
	info := b.ctx.Info()
	return fmt.Sprintf("vulkan (%s, %s)", info.Name, info.Type)
}

// fail keeps the first error.
func (b *Backend) fail(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// Alloc returns a zero-filled tensor in device memory. Running out of device memory panics,
// as running out of host memory does for the CPU backend.
// A BF16 or F16 tensor takes 2 bytes an element, rounded up to a whole 4-byte word.
func (b *Backend) Alloc(dtype core.DType, shape ...int) *core.Tensor {
	n := (uint64(core.NumElems(shape))*uint64(elemSize(dtype)) + 3) &^ 3
	buf, err := b.ctx.Alloc(n)
	if err != nil {
		panic(fmt.Sprintf("vulkan: allocating %v%v: %v", dtype, shape, err))
	}
	t := core.NewTensor(dtype, &storage{buf: buf}, shape...)
	if b.err == nil {
		b.fail(b.s.Fill(buf.Slice(0, n), 0))
	}
	return t
}

// Free returns the tensor's memory; it is reused once the work recorded so far has run.
func (b *Backend) Free(t *core.Tensor) {
	st := b.storage(t)
	if !st.freed {
		st.freed = true
		b.ctx.Free(st.buf)
	}
	t.DropStorage()
}

func (b *Backend) storage(t *core.Tensor) *storage {
	st, ok := t.Storage().(*storage)
	if !ok || st.freed {
		panic(fmt.Sprintf("vulkan: %v is not a live tensor of this backend", t))
	}
	return st
}

// elemSize is the bytes of one element of a dtype this backend stores.
func elemSize(dtype core.DType) int {
	switch dtype {
	case core.F32, core.I32:
		return 4
	case core.BF16, core.F16:
		return 2
	}
	panic(fmt.Sprintf("vulkan: unsupported dtype %v", dtype))
}

// buf is the byte range of a tensor (or view). A 16-bit one's range is rounded up to whole
// 4-byte words, which its allocation has, and must start on one: the shaders read 16-bit values
// two to a word.
func (b *Backend) buf(t *core.Tensor) vk.Buffer {
	size := elemSize(t.DType())
	if size == 2 {
		if t.Offset()%2 != 0 {
			panic(fmt.Sprintf("vulkan: %v starts at an odd element offset %d", t, t.Offset()))
		}
		return b.storage(t).buf.Slice(uint64(t.Offset())*2, (uint64(t.Len())*2+3)&^3)
	}
	return b.storage(t).buf.Slice(uint64(t.Offset())*4, uint64(t.Len())*4)
}

func mustType(op string, t *core.Tensor, dtype core.DType) {
	if t.DType() != dtype {
		panic(fmt.Sprintf("vulkan: %s: %v is not %v", op, t, dtype))
	}
}

func mustSameLen(op string, ts ...*core.Tensor) {
	for _, t := range ts[1:] {
		if t.Len() != ts[0].Len() {
			panic(fmt.Sprintf("vulkan: %s: %v and %v differ in size", op, ts[0], t))
		}
	}
}

// Upload copies src into an F32 tensor (recorded: it lands in order with the queued ops).
func (b *Backend) Upload(t *core.Tensor, src []float32) {
	mustType("upload", t, core.F32)
	b.upload(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), 4*len(src)), len(src))
}

// Upload16 copies 16-bit float bits into a BF16 or F16 tensor (recorded, as Upload).
func (b *Backend) Upload16(t *core.Tensor, src []uint16) {
	if t.DType() != core.BF16 && t.DType() != core.F16 {
		panic(fmt.Sprintf("vulkan: upload of 16-bit values into %v", t))
	}
	if len(src) != t.Len() {
		panic(fmt.Sprintf("vulkan: upload of %d values into %v", len(src), t))
	}
	data := make([]byte, (2*len(src)+3)&^3) // whole words: an odd count gets a zero pad
	for i, h := range src {
		binary.LittleEndian.PutUint16(data[2*i:], h)
	}
	if b.err == nil && len(src) > 0 {
		b.fail(b.s.Upload(b.buf(t), data))
	}
}

// UploadInt copies src into an I32 tensor.
func (b *Backend) UploadInt(t *core.Tensor, src []int32) {
	mustType("upload", t, core.I32)
	b.upload(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), 4*len(src)), len(src))
}

func (b *Backend) upload(t *core.Tensor, data []byte, n int) {
	if n != t.Len() {
		panic(fmt.Sprintf("vulkan: upload of %d values into %v", n, t))
	}
	if b.err == nil && n > 0 {
		b.fail(b.s.Upload(b.buf(t), data))
	}
}

// Download runs the queued work and copies an F32 tensor to dst. A device failure panics: the
// interface has no error here, and the data cannot be produced (Sync reports it as an error).
func (b *Backend) Download(t *core.Tensor, dst []float32) {
	if t.DType() == core.BF16 || t.DType() == core.F16 {
		if len(dst) != t.Len() {
			panic(fmt.Sprintf("vulkan: download of %v into %d values", t, len(dst)))
		}
		raw := make([]byte, (2*len(dst)+3)&^3)
		if b.err == nil {
			b.fail(b.s.Download(b.buf(t), raw))
		}
		if b.err != nil {
			panic(fmt.Sprintf("vulkan: download of %v: %v", t, b.err))
		}
		widen := half.BF16ToFloat32
		if t.DType() == core.F16 {
			widen = half.F16ToFloat32
		}
		for i := range dst {
			dst[i] = widen(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return
	}
	mustType("download", t, core.F32)
	b.download(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)), len(dst))
}

// DownloadInt runs the queued work and copies an I32 tensor to dst.
func (b *Backend) DownloadInt(t *core.Tensor, dst []int32) {
	mustType("download", t, core.I32)
	b.download(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)), len(dst))
}

func (b *Backend) download(t *core.Tensor, dst []byte, n int) {
	if n != t.Len() {
		panic(fmt.Sprintf("vulkan: download of %v into %d values", t, n))
	}
	if b.err == nil {
		b.fail(b.s.Download(b.buf(t), dst))
	}
	if b.err != nil {
		panic(fmt.Sprintf("vulkan: download of %v: %v", t, b.err))
	}
}

// Sync runs all queued work and waits for it.
func (b *Backend) Sync() error {
	if b.err == nil {
		b.fail(b.s.Flush())
	}
	return b.err
}

// dispatch records one dispatch of shader s, specialised by spec, with push constants pc and
// the buffers binds in binding order. Bindings that do not fit s's description (layouts.go)
// panic, as other misuse does; after an earlier failure nothing is recorded.
func (s *shader[P, S]) dispatch(b *Backend, spec S, label string, groups [3]uint32, pc P, binds ...vk.Binding) {
	push := encode(pc)
	words := specWords(spec)
	uses := make([]bindUse, len(binds))
	for i, bd := range binds {
		uses[i] = bindUse{write: bd.Write, unused: bd.Buf == b.placeholder}
	}
	if err := s.checkBinds(push, words, uses); err != nil {
		panic(fmt.Sprintf("vulkan: %s: %v", label, err))
	}
	if b.err != nil {
		return
	}
	code, err := shaders.SPIRV(s.name)
	if err != nil {
		b.fail(err)
		return
	}
	p, err := b.ctx.Pipeline(s.name, code, len(s.bindings), len(push), words...)
	if err != nil {
		b.fail(err)
		return
	}
	b.fail(b.s.Dispatch(p, label, groups, push, binds...))
}

// unused binds the backend's stand-in buffer where a shader's variant or absent optional
// operand leaves a binding untouched: Vulkan still wants a buffer there. It is never written,
// so it adds no barriers.
func (b *Backend) unused() vk.Binding { return vk.Read(b.placeholder) }

// optional binds t (written if write), after checking that it has n elements, or the unused
// stand-in when t is nil; the shader is told which by a flag in its push constants.
func (b *Backend) optional(op string, t *core.Tensor, n int, write bool) vk.Binding {
	if t == nil {
		return b.unused()
	}
	mustLen(op, t, n)
	if write {
		return vk.Write(b.buf(t))
	}
	return vk.Read(b.buf(t))
}

// groups1D is the workgroup count for n items in groups of 256, capped for grid-stride loops.
func groups1D(n int) [3]uint32 {
	return [3]uint32{uint32(min(max((n+255)/256, 1), 65535)), 1, 1}
}

// Fill sets every element of an F32 tensor to v.
func (b *Backend) Fill(t *core.Tensor, v float32) {
	mustType("fill", t, core.F32)
	if b.err == nil {
		b.fail(b.s.Fill(b.buf(t), math.Float32bits(v)))
	}
}

// Copy copies src into dst.
func (b *Backend) Copy(dst, src *core.Tensor) {
	if dst.DType() != src.DType() || dst.Len() != src.Len() {
		panic(fmt.Sprintf("vulkan: copy %v into %v", src, dst))
	}
	if b.err == nil {
		b.fail(b.s.Copy(b.buf(dst), b.buf(src)))
	}
}

// Add writes out = a + c.
func (b *Backend) Add(out, a, c *core.Tensor) {
	mustSameLen("add", out, a, c)
	n := out.Len()
	elementwiseShader.dispatch(b, opSpec{opAdd}, "add", groups1D(n), elementwisePush{N: uint32(n)},
		vk.Write(b.buf(out)), vk.Read(b.buf(a)), vk.Read(b.buf(c)))
}

// Scale multiplies t by s in place.
func (b *Backend) Scale(t *core.Tensor, s float32) {
	n := t.Len()
	buf := b.buf(t)
	elementwiseShader.dispatch(b, opSpec{opScale}, "scale", groups1D(n), elementwisePush{N: uint32(n), S: s},
		vk.Write(buf), vk.Read(buf), b.unused())
}
