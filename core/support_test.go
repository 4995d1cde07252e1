package core

import (
	"slices"
	"testing"
)

// TestSupport: an encoding gives back each row's entries, from the whole encoding and from the
// tail a chunk of rows reads; membership follows each kind of row; CheckSupport refuses each
// kind of damage.
func TestSupport(t *testing.T) {
	const v = 10
	rows := [][]int32{nil, AllBut(3), {0, 4, 9}, {7}, nil, AllBut(0)}
	enc := EncodeSupport(rows)
	if err := CheckSupport(enc, len(rows), v); err != nil {
		t.Fatal(err)
	}
	for lo := range rows {
		tail := enc[lo:]
		for r := lo; r < len(rows); r++ {
			if got := SupportRow(tail, r-lo); !slices.Equal(got, rows[r]) {
				t.Errorf("row %d read from the tail at %d: %v, want %v", r, lo, got, rows[r])
			}
		}
		if err := CheckSupport(tail, len(rows)-lo, v); err != nil {
			t.Errorf("tail at %d: %v", lo, err)
		}
	}
	want := func(r int, j int32) bool {
		switch r {
		case 1:
			return j != 3
		case 2:
			return j == 0 || j == 4 || j == 9
		case 3:
			return j == 7
		case 5:
			return j != 0
		}
		return true
	}
	for r := range rows {
		for j := int32(0); j < v; j++ {
			if got := InSupport(SupportRow(enc, r), j); got != want(r, j) {
				t.Errorf("row %d, token %d: in support %v, want %v", r, j, got, want(r, j))
			}
		}
	}
	for name, bad := range map[string][][]int32{
		"id outside":    {{0, v}},
		"not ascending": {{4, 2}},
		"duplicate":     {{4, 4}},
		"excluded+kept": {{-2, 5}},
		"excluded out":  {AllBut(v)},
	} {
		if err := CheckSupport(EncodeSupport(bad), len(bad), v); err == nil {
			t.Errorf("%s: %v accepted", name, bad)
		}
	}
	broken := slices.Clone(enc)
	broken[2] = 100
	if err := CheckSupport(broken, len(rows), v); err == nil {
		t.Error("a header pointing past the entries accepted")
	}
	if err := CheckSupport(enc[:3], len(rows), v); err == nil {
		t.Error("a short header accepted")
	}
}
