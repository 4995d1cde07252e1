package safetensors

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeShard writes tensors to dir/name.
func writeShard(t *testing.T, dir, name string, tensors map[string]Tensor) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, nil, tensors); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeIndex writes an index with the given weight map and total size (none when negative).
func writeIndex(t *testing.T, dir string, wm map[string]string, total int64) {
	t.Helper()
	doc := map[string]any{"weight_map": wm}
	if total >= 0 {
		doc["metadata"] = map[string]any{"total_size": total}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexName), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shardedDir writes a two-shard BF16/F32 checkpoint: a and b in the first shard, c in the second.
func shardedDir(t *testing.T) string {
	dir := t.TempDir()
	writeShard(t, dir, "model-00001-of-00002.safetensors", map[string]Tensor{
		"a": FromFloat32As(BF16, []float32{1, -2, 0.5}, 3),
		"b": FromFloat32As(F32, []float32{3, 4}, 2),
	})
	writeShard(t, dir, "model-00002-of-00002.safetensors", map[string]Tensor{
		"c": FromFloat32As(BF16, []float32{7, 8, 9, 10}, 2, 2),
	})
	writeIndex(t, dir, map[string]string{
		"a": "model-00001-of-00002.safetensors",
		"b": "model-00001-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors",
	}, 6+8+8)
	return dir
}

func TestOpenSetSharded(t *testing.T) {
	s, err := OpenSet(shardedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string][]float32{"a": {1, -2, 0.5}, "b": {3, 4}, "c": {7, 8, 9, 10}}
	for n, w := range want {
		got, err := s.Tensors[n].Float32()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(w) {
			t.Fatalf("%s: %v, want %v", n, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s: %v, want %v", n, got, w)
			}
		}
	}
	if s.FileOf["c"] != "model-00002-of-00002.safetensors" || s.Tensors["a"].DType != BF16 {
		t.Errorf("FileOf %v, a's dtype %s", s.FileOf, s.Tensors["a"].DType)
	}
}

// TestOpenFileMatchesParse checks that a mapped file gives what Parse gives from the same bytes.
func TestOpenFileMatchesParse(t *testing.T) {
	dir := t.TempDir()
	raw := sample(t)
	path := filepath.Join(dir, SingleName)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for n, tt := range p.Tensors {
		if !bytes.Equal(f.Tensors[n].Data, tt.Data) {
			t.Errorf("%s differs between OpenFile and Parse", n)
		}
	}
	if !f.Checked {
		t.Error("the checksum was not verified")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.FileOf["ids"] != SingleName {
		t.Errorf("FileOf %v", s.FileOf)
	}
	s.Close()
}

// TestOpenSetDamage checks that each kind of damage to a sharded folder is an error naming the
// file and the tensor.
func TestOpenSetDamage(t *testing.T) {
	const s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string
	}{
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, s2)) }, []string{s2, "tensor c"}},
		{"index names an absent tensor", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": s1, "b": s1, "c": s2, "d": s2}, -1)
		}, []string{s2, "tensor d", "does not hold it"}},
		{"tensor not in the index", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": s1, "c": s2}, -1)
		}, []string{s1, "tensor b", "does not list it"}},
		{"tensor placed in another shard", func(t *testing.T, dir string) {
			writeShard(t, dir, s2, map[string]Tensor{"c": FromFloat32([]float32{1}, 1), "b": FromFloat32([]float32{1}, 1)})
		}, []string{s2, "tensor b", "places it in " + s1}},
		{"truncated shard", func(t *testing.T, dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, s2))
			os.WriteFile(filepath.Join(dir, s2), raw[:len(raw)-3], 0o644)
		}, []string{s2, "tensor c"}},
		{"total size lies", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": s1, "b": s1, "c": s2}, 99)
		}, []string{IndexName, "total_size is 99", "22 bytes"}},
		{"shard outside the folder", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": s1, "b": s1, "c": "../" + s2}, -1)
		}, []string{IndexName, "tensor c", "not a file name"}},
		{"index not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte("{"), 0o644)
		}, []string{IndexName, "not a JSON object"}},
		{"header lies about a dtype", func(t *testing.T, dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, s2))
			os.WriteFile(filepath.Join(dir, s2), bytes.Replace(raw, []byte(`"BF16"`), []byte(`"F32" `), 1), 0o644)
		}, []string{s2, `tensor "c"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := shardedDir(t)
			c.damage(t, dir)
			s, err := OpenSet(dir)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// FuzzParseIndex feeds arbitrary text to the index parser: it must return an error or an index
// whose every shard is a plain file name, never panic.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x"}}`))
	f.Add([]byte(`{"metadata":{"total_size":-1},"weight_map":{"a":"x"}} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			return
		}
		for n, sh := range idx.WeightMap {
			if filepath.Base(sh) != sh || sh == ".." || sh == "." {
				t.Fatalf("tensor %q placed in %q", n, sh)
			}
		}
		if idx.TotalSize != nil && *idx.TotalSize < 0 {
			t.Fatalf("negative total size %d", *idx.TotalSize)
		}
	})
}

// TestDropAndBits16: a dropped tensor's data still reads the same (its pages come back from the
// file), and Bits16 gives a BF16 tensor's bit patterns whether its data is aligned (read in
// place) or not (decoded into the scratch).
func TestDropAndBits16(t *testing.T) {
	s, err := OpenSet(shardedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := bytes.Clone(s.Tensors["c"].Data)
	s.Drop("c")
	if !bytes.Equal(s.Tensors["c"].Data, before) {
		t.Fatal("a dropped tensor reads differently")
	}
	want := []uint16{0x40e0, 0x4100, 0x4110, 0x4120} // 7, 8, 9, 10 in bfloat16
	odd := append([]byte{0}, before...)[1:]          // the same bytes at an odd address
	for _, data := range [][]byte{before, odd} {
		got := Tensor{DType: BF16, Shape: []int{4}, Data: data}.Bits16(make([]uint16, 4))
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("Bits16 = %#x, want %#x", got, want)
			}
		}
	}
}
