package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func sample(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := Write(&buf, map[string]string{"format": "test"}, map[string]Tensor{
		"a.weight": FromFloat32([]float32{1, -2.5, 3, 4, 5, 6}, 2, 3),
		"ids":      FromInt32([]int32{7, -8}, 2),
		"scalar":   FromFloat32([]float32{42}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	raw := sample(t)
	if hl := binary.LittleEndian.Uint64(raw); hl%8 != 0 {
		t.Errorf("header length %d is not 8-byte aligned", hl)
	}
	f, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "test" {
		t.Errorf("metadata %v", f.Metadata)
	}
	w, err := f.Tensors["a.weight"].Float32()
	if err != nil || len(w) != 6 || w[1] != -2.5 || f.Tensors["a.weight"].Shape[1] != 3 {
		t.Errorf("a.weight = %v %v (%v)", w, f.Tensors["a.weight"].Shape, err)
	}
	ids, err := f.Tensors["ids"].Int32()
	if err != nil || ids[1] != -8 {
		t.Errorf("ids = %v (%v)", ids, err)
	}
	if s := f.Tensors["scalar"]; len(s.Shape) != 0 || len(s.Data) != 4 {
		t.Errorf("scalar = %+v", s)
	}
	if got := strings.Join(f.Names(), ","); got != "a.weight,ids,scalar" {
		t.Errorf("names %s", got)
	}
}

// TestCorruptFiles checks that each kind of damage is an error naming the problem.
func TestCorruptFiles(t *testing.T) {
	good := sample(t)
	hl := int(binary.LittleEndian.Uint64(good))
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":          {nil, "shorter than"},
		"truncated data": {good[:len(good)-3], "truncated"},
		"truncated head": {good[:8+hl/2], "truncated"},
		"huge header":    {append([]byte{0, 0, 0, 0, 0, 0, 0, 0x7f}, good[8:]...), "exceeds"},
		"not json":       {append(append([]byte(nil), good[:8]...), bytes.Repeat([]byte{'x'}, hl)...), "not a JSON object"},
	}
	for name, c := range cases {
		if _, err := Parse(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	bad := func(header string) []byte {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(len(header)))
		return append(append(b[:], header...), make([]byte, 16)...)
	}
	for header, want := range map[string]string{
		`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}`:      "want 8",
		`{"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,4]}}`:   "unsupported dtype",
		`{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`:      "negative",
		`{"x":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`:      "outside",
		`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`:       "outside",
		`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"y":1}}`: "unknown field",
		`{"__metadata__":{"a":1}}`:                                     "strings to strings",
	} {
		if _, err := Parse(bad(header)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", header, err, want)
		}
	}
}

// TestDataChecks: the data must tile the file exactly and match the checksum Write stores; a
// file without one (another tool's) parses, marked unchecked.
func TestDataChecks(t *testing.T) {
	good := sample(t)
	if f, err := Parse(good); err != nil || !f.Checked || len(f.Metadata[ChecksumKey]) != 64 {
		t.Fatalf("a written file: checked %v, metadata %v (%v)", f != nil && f.Checked, f, err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 0x10
	if _, err := Parse(flipped); err == nil || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Errorf("a flipped data bit: %v", err)
	}
	if _, err := Parse(append(bytes.Clone(good), "junk"...)); err == nil || !strings.Contains(err.Error(), "4 trailing bytes") {
		t.Errorf("trailing bytes: %v", err)
	}
	file := func(header string) []byte {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(len(header)))
		return append(append(b[:], header...), make([]byte, 16)...)
	}
	for header, want := range map[string]string{
		`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`:  `"y": data range [4, 12) overlaps`,
		`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`:  `"y": data range [8, 16) leaves bytes [4, 8) unused`,
		`{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"y":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`: "unused",
	} {
		if _, err := Parse(file(header)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", header, err, want)
		}
	}
	// Out of name order but tiling the data: valid, as the format allows.
	f, err := Parse(file(`{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`))
	if err != nil || f.Checked {
		t.Errorf("a file without checksum: checked %v, %v", f != nil && f.Checked, err)
	}
}

// FuzzParse feeds arbitrary bytes to the parser: it must return an error or a consistent file,
// never panic.
func FuzzParse(f *testing.F) {
	f.Add(sample(&testing.T{}))
	f.Add([]byte("\x6b\x00\x00\x00\x00\x00\x00\x00{\"h\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},\"f\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[4,6]}}\x80\x3f\x00\xc0\x00\x3c"))
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for name, tt := range file.Tensors {
			n := 1
			for _, d := range tt.Shape {
				n *= d
			}
			size, _ := tt.DType.size()
			if len(tt.Data) != n*size {
				t.Fatalf("tensor %q: %d bytes for shape %v", name, len(tt.Data), tt.Shape)
			}
		}
	})
}
