package safetensors

import (
	"encoding/binary"
	"unsafe"

	"github.com/dllmrl/agrpo/core/half"
)

// Bits16 returns a BF16 or F16 tensor's values as bit patterns: its data itself, without a copy,
// on a little-endian host when the data is 2-byte aligned (always, in a file whose header is
// padded as the format's writers pad it), else decoded into scratch, which must be long enough.
// The result aliases the tensor's data or scratch.
func (t Tensor) Bits16(scratch []uint16) []uint16 {
	n := len(t.Data) / 2
	if n == 0 {
		return scratch[:0]
	}
	if littleEndian && uintptr(unsafe.Pointer(&t.Data[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&t.Data[0])), n)
	}
	v := scratch[:n]
	for i := range v {
		v[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return v
}

// littleEndian says the host stores a uint16's low byte first, as safetensors does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// FromFloat32As packs values as a tensor of dtype F32 or BF16 (rounded to nearest even); any
// other dtype is a programming error and panics.
func FromFloat32As(dtype DType, v []float32, shape ...int) Tensor {
	switch dtype {
	case F32:
		return FromFloat32(v, shape...)
	case BF16:
	default:
		panic("safetensors: FromFloat32As to " + string(dtype))
	}
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], half.Float32ToBF16(x))
	}
	return Tensor{DType: BF16, Shape: shape, Data: b}
}
