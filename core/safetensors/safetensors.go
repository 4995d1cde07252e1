// Package safetensors reads and writes the safetensors format (Hugging Face): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
// then the raw little-endian data. The reader treats the file as untrusted: every length,
// offset and shape is checked before use, and any inconsistency is an error, never a panic.
package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"sort"

	"github.com/dllmrl/agrpo/core/half"
)

// MaxHeader bounds the JSON header a reader accepts (the format's own limit is 100 MB).
const MaxHeader = 100 << 20

// DType names a tensor element type as the format spells it.
type DType string

// Element types this package reads and writes. BF16 (bfloat16: float32's top 16 bits) and F16
// (IEEE half precision) are what Hugging Face checkpoints of large models hold.
const (
	F32  DType = "F32"
	F64  DType = "F64"
	I32  DType = "I32"
	I64  DType = "I64"
	BF16 DType = "BF16"
	F16  DType = "F16"
)

func (d DType) size() (int, bool) {
	switch d {
	case BF16, F16:
		return 2, true
	case F32, I32:
		return 4, true
	case F64, I64:
		return 8, true
	}
	return 0, false
}

// Tensor is one named array: its type, shape and raw little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// ChecksumKey is the metadata entry Write stores the tensor data's checksum under: the SHA-256,
// in hex, of every byte after the header. Parse verifies it when present; files written by
// other tools do not carry it.
const ChecksumKey = "data_sha256"

// File is a parsed safetensors file.
type File struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
	// Checked says the data matched the checksum in the metadata. Without one (a file of
	// another tool, or an older one of this project) only the header and sizes were checked.
	Checked bool

	release func() error // unmaps a file from OpenFile
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type entry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Parse decodes a whole file held in memory. Data slices alias buf. The tensors must tile the
// data exactly, as the format requires (no overlap, no hole, no trailing bytes), and the data
// must match its checksum when the metadata has one.
func Parse(buf []byte) (*File, error) {
	if len(buf) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > MaxHeader {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeader)
	}
	if uint64(len(buf)-8) < n {
		return nil, fmt.Errorf("safetensors: header length %d but only %d bytes follow (truncated file?)", n, len(buf)-8)
	}
	header, data := buf[8:8+n], buf[8+n:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	f := &File{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e entry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		t, err := e.slice(name, data)
		if err != nil {
			return nil, err
		}
		f.Tensors[name] = t
		spans = append(spans, span{name, e.DataOffsets[0], e.DataOffsets[1]})
	}
	if err := tiles(spans, int64(len(data))); err != nil {
		return nil, err
	}
	if want, ok := f.Metadata[ChecksumKey]; ok {
		if got := checksum(data); got != want {
			return nil, fmt.Errorf("safetensors: the tensor data does not match its checksum (%s %s, data %s): the file is corrupt", ChecksumKey, want, got)
		}
		f.Checked = true
	}
	return f, nil
}

// span is one tensor's byte range in the data.
type span struct {
	name       string
	begin, end int64
}

// tiles reports the first overlap, hole or trailing byte of spans over n data bytes.
func tiles(spans []span, n int64) error {
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	var at int64
	for _, s := range spans {
		switch {
		case s.begin < at:
			return fmt.Errorf("safetensors: tensor %q: data range [%d, %d) overlaps the previous tensor's, which ends at %d", s.name, s.begin, s.end, at)
		case s.begin > at:
			return fmt.Errorf("safetensors: tensor %q: data range [%d, %d) leaves bytes [%d, %d) unused", s.name, s.begin, s.end, at, s.begin)
		}
		at = s.end
	}
	if at != n {
		return fmt.Errorf("safetensors: %d trailing bytes after the last tensor's data (which ends at %d)", n-at, at)
	}
	return nil
}

// checksum is the hex SHA-256 of data.
func checksum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func (e entry) slice(name string, data []byte) (Tensor, error) {
	size, ok := e.DType.size()
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, e.DType)
	}
	count := int64(1)
	for _, d := range e.Shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		if d > 0 && count > math.MaxInt32/int64(d) {
			return Tensor{}, fmt.Errorf("safetensors: tensor %q: shape %v is too large", name, e.Shape)
		}
		count *= int64(d)
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > int64(len(data)) {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: data range [%d, %d) outside the %d data bytes (truncated file?)", name, begin, end, len(data))
	}
	if end-begin != count*int64(size) {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %d bytes for shape %v of %s, want %d", name, end-begin, e.Shape, e.DType, count*int64(size))
	}
	return Tensor{DType: e.DType, Shape: append([]int(nil), e.Shape...), Data: data[begin:end]}, nil
}

// ReadFile reads a whole file for Parse. It must be a regular file: a device or a pipe (such
// as /dev/zero) has no size to bound the read, and could exhaust memory.
func ReadFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.ReadFile(path)
}

// Write encodes tensors (written in sorted name order) and metadata to w, adding the data's
// checksum to the metadata under ChecksumKey (replacing any there).
func Write(w io.Writer, metadata map[string]string, tensors map[string]Tensor) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return errors.New("safetensors: a tensor cannot be named __metadata__")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	sum := sha256.New()
	var off int64
	for _, n := range names {
		t := tensors[n]
		size, ok := t.DType.size()
		if !ok {
			return fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", n, t.DType)
		}
		want := int64(size)
		for _, d := range t.Shape {
			want *= int64(d)
		}
		if int64(len(t.Data)) != want {
			return fmt.Errorf("safetensors: tensor %q: %d bytes for shape %v, want %d", n, len(t.Data), t.Shape, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = entry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + want}}
		off += want
		sum.Write(t.Data)
	}
	meta := maps.Clone(metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[ChecksumKey] = hex.EncodeToString(sum.Sum(nil))
	header["__metadata__"] = meta
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encoding header: %w", err)
	}
	// Pad the header with spaces to 8-byte alignment so the data is aligned, as the reference writer does.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(hj); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, n := range names {
		if _, err := w.Write(tensors[n].Data); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	return nil
}

// FromFloat32 packs values as an F32 tensor.
func FromFloat32(v []float32, shape ...int) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{DType: F32, Shape: shape, Data: b}
}

// FromInt32 packs values as an I32 tensor.
func FromInt32(v []int32, shape ...int) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{DType: I32, Shape: shape, Data: b}
}

// Float32 unpacks a floating-point tensor: F32 as is, BF16 and F16 widened exactly, F64 narrowed.
func (t Tensor) Float32() ([]float32, error) {
	size, ok := t.DType.size()
	if !ok {
		return nil, fmt.Errorf("safetensors: %s tensor read as float32", t.DType)
	}
	v := make([]float32, len(t.Data)/size)
	if err := t.DecodeFloat32(v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeFloat32 is Float32 into dst, which must hold exactly the tensor's element count, so
// that a loader can reuse one buffer for many tensors.
func (t Tensor) DecodeFloat32(dst []float32) error {
	size, ok := t.DType.size()
	if !ok || len(dst)*size != len(t.Data) {
		return fmt.Errorf("safetensors: %d-byte %s tensor decoded into %d float32s", len(t.Data), t.DType, len(dst))
	}
	switch t.DType {
	case BF16:
		for i := range dst {
			dst[i] = half.BF16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = half.F16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	default:
		return fmt.Errorf("safetensors: %s tensor read as float32", t.DType)
	}
	return nil
}

// Int32 unpacks an I32 (or I64, checked for range) tensor.
func (t Tensor) Int32() ([]int32, error) {
	switch t.DType {
	case I32:
		v := make([]int32, len(t.Data)/4)
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return v, nil
	case I64:
		v := make([]int32, len(t.Data)/8)
		for i := range v {
			x := int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("safetensors: I64 value %d does not fit in int32", x)
			}
			v[i] = int32(x)
		}
		return v, nil
	}
	return nil, fmt.Errorf("safetensors: %s tensor read as int32", t.DType)
}
