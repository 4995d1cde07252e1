// Package cpu is the pure-Go compute backend: every core.Backend op on host memory, using all
// cores. Matrix products go through package gemm (assembly micro-kernels where the CPU has them,
// pure Go elsewhere, including WebAssembly); everything else is plain Go loops split over workers.
package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/dllmrl/agrpo/core"
)

// Backend is the CPU implementation of core.Backend. It is safe for use by one goroutine at a
// time (ops themselves run in parallel internally).
type Backend struct {
	threads int
	ropeMu  sync.Mutex
	rope    map[ropeKey][]float32
	scratch sync.Pool // *[]float32 work buffers for attention
}

// New returns a CPU backend using GOMAXPROCS threads.
func New() *Backend {
	return &Backend{threads: runtime.GOMAXPROCS(0), rope: map[ropeKey][]float32{}}
}

// Name reports the backend and its thread count.
func (b *Backend) Name() string { return fmt.Sprintf("cpu (%d threads)", b.threads) }

// Alloc returns a zero-filled tensor backed by a Go slice.
func (b *Backend) Alloc(dtype core.DType, shape ...int) *core.Tensor {
	n := core.NumElems(shape)
	switch dtype {
	case core.F32:
		return core.NewTensor(dtype, make([]float32, n), shape...)
	case core.I32:
		return core.NewTensor(dtype, make([]int32, n), shape...)
	}
	panic(fmt.Sprintf("cpu: unsupported dtype %v", dtype))
}

// Free drops the reference; the garbage collector reclaims the memory.
func (b *Backend) Free(t *core.Tensor) { t.Storage = nil }

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

// Download copies t into dst.
func (b *Backend) Download(t *core.Tensor, dst []float32) {
	src := f32(t)
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
	copy(f32(dst), f32(src))
}

// Add writes out = a + b.
func (b *Backend) Add(out, x, y *core.Tensor) {
	mustSameLen("add", out, x, y)
	o, xs, ys := f32(out), f32(x), f32(y)
	b.parallel(len(o), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = xs[i] + ys[i]
		}
	})
}

// Scale multiplies t by s.
func (b *Backend) Scale(t *core.Tensor, s float32) {
	d := f32(t)
	b.parallel(len(d), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] *= s
		}
	})
}

// parallel splits [0, n) into contiguous chunks of at least grain items and runs fn on them
// concurrently, one chunk per thread; small n runs inline to skip goroutine start-up.
func (b *Backend) parallel(n, grain int, fn func(lo, hi int)) {
	workers := b.threads
	if grain < 1 {
		grain = 1
	}
	if maxW := (n + grain - 1) / grain; workers > maxW {
		workers = maxW
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// f32 returns the tensor's elements as a slice of its backing store.
func f32(t *core.Tensor) []float32 {
	s, ok := t.Storage.([]float32)
	if !ok {
		panic(fmt.Sprintf("cpu: %v is not an F32 tensor of this backend", t))
	}
	return s[t.Offset : t.Offset+t.Len()]
}

// i32 is f32 for I32 tensors.
func i32(t *core.Tensor) []int32 {
	s, ok := t.Storage.([]int32)
	if !ok {
		panic(fmt.Sprintf("cpu: %v is not an I32 tensor of this backend", t))
	}
	return s[t.Offset : t.Offset+t.Len()]
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
		panic(fmt.Sprintf("cpu: %s: got %v, want shape %v", op, t, shape))
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
