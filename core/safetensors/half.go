package safetensors

import (
	"encoding/binary"

	"github.com/dllmrl/agrpo/core/half"
)

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
