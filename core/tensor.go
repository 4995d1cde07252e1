// Package core holds the engine's contract: tensor handles and the Backend interface that every
// compute backend (the pure-Go CPU backend in core/cpu, the Vulkan backend) implements. The model,
// the sampler and the policy-gradient estimators are written against this interface only.
package core

import (
	"fmt"
	"reflect"
	"strings"
)

// DType is the element type of a tensor.
type DType uint8

// The element types a backend stores. Token ids, masks and targets are I32; everything else is
// F32, except weights kept 16-bit (BF16, or IEEE half F16), which the backends read as the
// weight operand of a linear MatMul and as an Embedding table, widened exactly, with float32
// arithmetic; no other op takes them.
const (
	F32 DType = iota
	I32
	BF16
	F16
)

// String names the type as safetensors does.
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case I32:
		return "I32"
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Tensor is a handle to a dense, row-major array owned by a Backend. The data lives wherever the
// backend keeps it (host memory for the CPU backend, device memory for Vulkan); it is read and
// written only through the backend's Upload and Download and its ops.
type Tensor struct {
	shape []int
	dtype DType
	// storage is the backend's: only the backend that allocated the tensor interprets it.
	// Views made by Reshape and Rows share it.
	storage any
	// offset is the element offset of this handle into storage (non-zero for row-range views).
	offset int
}

// NewTensor makes a handle; backends call it from Alloc. Shape entries must be positive.
func NewTensor(dtype DType, storage any, shape ...int) *Tensor {
	for _, d := range shape {
		if d <= 0 {
			panic(fmt.Sprintf("core: invalid tensor shape %v", shape))
		}
	}
	return &Tensor{shape: append([]int(nil), shape...), dtype: dtype, storage: storage}
}

// Storage is what the backend that allocated t gave NewTensor, shared by every view of it. It is
// for that backend alone: to anyone else it means nothing, and the data is read through
// Download.
func (t *Tensor) Storage() any { return t.storage }

// Offset is the element offset of this view into its Storage, for the backend alone (non-zero
// for row-range views).
func (t *Tensor) Offset() int { return t.offset }

// DropStorage forgets the storage, so that a freed handle cannot reach memory its backend
// reuses; for the backend's Free alone.
func (t *Tensor) DropStorage() { t.storage = nil }

// Shape returns the dimensions; callers must not modify the slice.
func (t *Tensor) Shape() []int { return t.shape }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElems(t.shape) }

// Reshape returns a view with a new shape and the same storage; the element count must match.
// Views let one buffer be seen as [B, L, D] by attention and as [B·L, D] by a matmul.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if NumElems(shape) != t.Len() {
		panic(fmt.Sprintf("core: cannot reshape %v to %v", t.shape, shape))
	}
	v := NewTensor(t.dtype, t.storage, shape...)
	v.offset = t.offset
	return v
}

// Rows returns a view of rows [lo, hi) of the first dimension, sharing storage. It lets a
// caller run a smaller batch through buffers sized for the largest one.
func (t *Tensor) Rows(lo, hi int) *Tensor {
	if lo < 0 || hi > t.shape[0] || lo >= hi {
		panic(fmt.Sprintf("core: rows [%d,%d) out of range for shape %v", lo, hi, t.shape))
	}
	inner := t.Len() / t.shape[0]
	shape := append([]int{hi - lo}, t.shape[1:]...)
	v := NewTensor(t.dtype, t.storage, shape...)
	v.offset = t.offset + lo*inner
	return v
}

// Part is Rows(lo, hi), or t itself when that is every row, so that a loop over chunks makes
// no new handle when one chunk covers the tensor.
func (t *Tensor) Part(lo, hi int) *Tensor {
	if lo == 0 && hi == t.shape[0] {
		return t
	}
	return t.Rows(lo, hi)
}

// String describes the handle, e.g. "F32[64 128]".
func (t *Tensor) String() string {
	parts := make([]string, len(t.shape))
	for i, d := range t.shape {
		parts[i] = fmt.Sprint(d)
	}
	return t.dtype.String() + "[" + strings.Join(parts, " ") + "]"
}

// NumElems is the product of the dimensions.
func NumElems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SameView reports whether t and u are the same view: of one storage, at one offset, with one
// dtype and shape (a cache of something derived from a view can check it is still valid).
func (t *Tensor) SameView(u *Tensor) bool {
	return t.dtype == u.dtype && t.offset == u.offset && SameShape(t.shape, u.shape) && sameStorage(t.storage, u.storage)
}

// sameStorage reports whether two storages are the same buffer: slices by their first element
// and length, anything else by ==.
func sameStorage(x, y any) bool {
	switch xs := x.(type) {
	case []float32:
		ys, ok := y.([]float32)
		return ok && len(xs) == len(ys) && (len(xs) == 0 || &xs[0] == &ys[0])
	case []int32:
		ys, ok := y.([]int32)
		return ok && len(xs) == len(ys) && (len(xs) == 0 || &xs[0] == &ys[0])
	}
	if x == nil || y == nil || !reflect.TypeOf(x).Comparable() || reflect.TypeOf(x) != reflect.TypeOf(y) {
		return false
	}
	return x == y
}
