// Package cpu is the pure-Go compute backend: every core.Backend op on host memory, using all
// cores. Matrix products go through package gemm (assembly micro-kernels where the CPU has them,
// pure Go elsewhere, including WebAssembly); everything else is plain Go loops split over workers.
package cpu

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/par"
	"github.com/dllmrl/agrpo/core/half"
)

// Backend is the CPU implementation of core.Backend. It is safe for use by one goroutine at a
// time (ops themselves run in parallel internally).
type Backend struct {
	threads int
	ropeMu  sync.Mutex
	rope    map[ropeKey][]float32

	// Parallel dispatch and reusable scratch, so steady-state ops allocate nothing.
	loop     par.Loop
	slots    []any       // one *slot per body type run so far (see parallel)
	chunkF   [][]float32 // per-chunk work buffers (attention scores, tempered logits rows)
	chunkF2  [][]float32 // a second per-chunk buffer
	partial  []float32   // RMSNormBackward's per-chunk dw partials
	perRow   []float32   // CrossEntropy's per-row losses
	drawers  []drawer    // UnmaskStep's per-chunk samplers
	attnTile int         // attention tile length; 0 selects attnTile (tests set it small)
}

// New returns a CPU backend using GOMAXPROCS threads.
func New() *Backend {
	t := runtime.GOMAXPROCS(0)
	return &Backend{threads: t, rope: map[ropeKey][]float32{},
		chunkF: make([][]float32, t), chunkF2: make([][]float32, t)}
}

// Name reports the backend and its thread count.
func (b *Backend) Name() string { return fmt.Sprintf("cpu (%d threads)", b.threads) }

// Alloc returns a zero-filled tensor backed by a Go slice.
func (b *Backend) Alloc(dtype core.DType, shape ...int) *core.Tensor {
	n := core.NumElems(shape)
	switch dtype {
	case core.F32:
		return core.NewTensor(dtype, &f32Buf{data: make([]float32, n)}, shape...)
	case core.I32:
		return core.NewTensor(dtype, make([]int32, n), shape...)
	case core.BF16, core.F16:
		return core.NewTensor(dtype, make([]uint16, n), shape...)
	}
	panic(fmt.Sprintf("cpu: unsupported dtype %v", dtype))
}

// Free drops the reference; the garbage collector reclaims the memory.
func (b *Backend) Free(t *core.Tensor) { t.DropStorage() }

// Upload copies src into t.
func (b *Backend) Upload(t *core.Tensor, src []float32) {
	dst := f32(t)
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: upload of %d values into %v", len(src), t))
	}
	copy(dst, src)
}

// UploadInt copies src into an I32 tensor.
func (b *Backend) UploadInt(t *core.Tensor, src []int32) {
	dst := i32(t)
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: upload of %d values into %v", len(src), t))
	}
	copy(dst, src)
}

// Upload16 copies 16-bit float bits into a BF16 or F16 tensor.
func (b *Backend) Upload16(t *core.Tensor, src []uint16) {
	dst, _ := u16(t)
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: upload of %d values into %v", len(src), t))
	}
	copy(dst, src)
}

// Download copies t into dst, widening a 16-bit tensor.
func (b *Backend) Download(t *core.Tensor, dst []float32) {
	if t.DType() == core.BF16 || t.DType() == core.F16 {
		src, widen := u16(t)
		if len(src) != len(dst) {
			panic(fmt.Sprintf("cpu: download of %v into %d values", t, len(dst)))
		}
		for i, h := range src {
			dst[i] = widen(h)
		}
		return
	}
	src := f32r(t)
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: download of %v into %d values", t, len(dst)))
	}
	copy(dst, src)
}

// DownloadInt copies an I32 tensor into dst.
func (b *Backend) DownloadInt(t *core.Tensor, dst []int32) {
	src := i32(t)
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: download of %v into %d values", t, len(dst)))
	}
	copy(dst, src)
}

// Sync has nothing to wait for: CPU ops run when called.
func (b *Backend) Sync() error { return nil }

// Fill sets every element to v.
func (b *Backend) Fill(t *core.Tensor, v float32) {
	d := f32(t)
	for i := range d {
		d[i] = v
	}
}

// Copy copies src into dst.
func (b *Backend) Copy(dst, src *core.Tensor) {
	if dst.DType() != src.DType() || dst.Len() != src.Len() {
		panic(fmt.Sprintf("cpu: copy %v into %v", src, dst))
	}
	if src.DType() == core.I32 {
		copy(i32(dst), i32(src))
		return
	}
	// Split over the workers: the model's residual copies are megabytes, and one core alone
	// does not reach the memory bandwidth both have.
	parallel(b, dst.Len(), 1<<15, copyBody{o: f32(dst), x: f32r(src)})
}

type copyBody struct{ o, x []float32 }

func (t *copyBody) run(_, lo, hi int) { copy(t.o[lo:hi], t.x[lo:hi]) }

// Add writes out = a + b.
func (b *Backend) Add(out, x, y *core.Tensor) {
	mustSameLen("add", out, x, y)
	parallel(b, out.Len(), 1<<14, addBody{o: f32(out), x: f32(x), y: f32(y)})
}

type addBody struct{ o, x, y []float32 }

func (t *addBody) run(_, lo, hi int) {
	o, xs, ys := t.o[lo:hi], t.x[lo:hi], t.y[lo:hi]
	for i := range o {
		o[i] = xs[i] + ys[i]
	}
}

// Scale multiplies t by s.
func (b *Backend) Scale(t *core.Tensor, s float32) {
	parallel(b, t.Len(), 1<<14, scaleBody{d: f32(t), s: s})
}

type scaleBody struct {
	d []float32
	s float32
}

func (t *scaleBody) run(_, lo, hi int) {
	d := t.d[lo:hi]
	for i := range d {
		d[i] *= t.s
	}
}

// f32Buf is the storage of an F32 tensor of this backend: its elements, a count of the
// accesses that may have written them, and the packed copies of its matrices that MatMul keeps
// while they are unchanged (see packedB).
type f32Buf struct {
	data []float32
	// gen is bumped by f32, the one way to reach data for writing: every op's output, an
	// upload, an optimizer step. A packed copy records the gen it was made at and is used only
	// while gen still has that value, so no write can leave a stale copy in use. Only f32r,
	// for operands an op only reads, leaves gen as it is.
	gen   uint64
	packs []*packedB
}

// buf returns an F32 tensor's storage.
func buf(t *core.Tensor) *f32Buf {
	s, ok := t.Storage().(*f32Buf)
	if !ok {
		panic(fmt.Sprintf("cpu: %v is not an F32 tensor of this backend", t))
	}
	return s
}

// f32 returns the tensor's elements as a slice of its backing store, for reading and writing:
// it invalidates whatever was derived from the storage's contents.
func f32(t *core.Tensor) []float32 {
	s := buf(t)
	s.gen++
	return s.data[t.Offset() : t.Offset()+t.Len()]
}

// f32r is f32 for an operand the op only reads; writing through its slice would break the
// invalidation of packed copies (TestPackedWeightsFollowWrites and TestReadOnlyAccesses).
func f32r(t *core.Tensor) []float32 {
	s := buf(t)
	return s.data[t.Offset() : t.Offset()+t.Len()]
}

// i32 is f32 for I32 tensors.
// u16 returns a BF16 or F16 tensor's bits and the function that widens them.
func u16(t *core.Tensor) ([]uint16, func(uint16) float32) {
	s, ok := t.Storage().([]uint16)
	if !ok {
		panic(fmt.Sprintf("cpu: %v is not a 16-bit tensor of this backend", t))
	}
	widen := half.BF16ToFloat32
	if t.DType() == core.F16 {
		widen = half.F16ToFloat32
	}
	return s[t.Offset() : t.Offset()+t.Len()], widen
}

func i32(t *core.Tensor) []int32 {
	s, ok := t.Storage().([]int32)
	if !ok {
		panic(fmt.Sprintf("cpu: %v is not an I32 tensor of this backend", t))
	}
	return s[t.Offset() : t.Offset()+t.Len()]
}

func mustSameLen(op string, ts ...*core.Tensor) {
	for _, t := range ts[1:] {
		if t.Len() != ts[0].Len() {
			panic(fmt.Sprintf("cpu: %s: %v and %v differ in size", op, ts[0], t))
		}
	}
}

func mustShape(op string, t *core.Tensor, shape ...int) {
	if !core.SameShape(t.Shape(), shape) {
		// A copy, so shape does not escape and the variadic call allocates nothing.
		panic(fmt.Sprintf("cpu: %s: got %v, want shape %v", op, t, slices.Clone(shape)))
	}
}

func mustLen(op string, t *core.Tensor, n int) {
	if t.Len() != n {
		panic(fmt.Sprintf("cpu: %s: got %v, want %d elements", op, t, n))
	}
}

// rows splits a tensor into (rows, last dim).
func rows(t *core.Tensor) (int, int) {
	d := t.Dim(-1)
	return t.Len() / d, d
}
