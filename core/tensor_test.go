package core

import "testing"

// TestSameView: a handle is the same view as a copy of itself, not as a reshape, a row range or
// another buffer of the same shape.
func TestSameView(t *testing.T) {
	a := NewTensor(F32, make([]float32, 12), 3, 4)
	b := NewTensor(F32, make([]float32, 12), 3, 4)
	c := *a
	for _, tc := range []struct {
		name string
		u    *Tensor
		want bool
	}{
		{"itself", a, true},
		{"a copy of its handle", &c, true},
		{"a reshape", a.Reshape(4, 3), false},
		{"a row range", a.Rows(1, 3), false},
		{"another buffer", b, false},
	} {
		if got := a.SameView(tc.u); got != tc.want {
			t.Errorf("%s: SameView = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestViewBacking: views share their tensor's storage at the offset of their first element, and
// a dropped storage is gone from that handle only.
func TestViewBacking(t *testing.T) {
	data := make([]float32, 12)
	a := NewTensor(F32, data, 3, 4)
	rows := a.Rows(1, 3)
	inner := rows.Rows(1, 2).Reshape(2, 2)
	for _, tc := range []struct {
		name   string
		v      *Tensor
		offset int
	}{{"the tensor", a, 0}, {"rows [1,3)", rows, 4}, {"row 1 of rows [1,3), reshaped", inner, 8}} {
		if s, ok := tc.v.Storage().([]float32); !ok || &s[0] != &data[0] || tc.v.Offset() != tc.offset {
			t.Errorf("%s: storage %p offset %d, want %p offset %d", tc.name, tc.v.Storage(), tc.v.Offset(), data, tc.offset)
		}
	}
	rows.DropStorage()
	if rows.Storage() != nil || a.Storage() == nil {
		t.Errorf("after dropping the view's storage: view %v, tensor %v; want nil and the tensor's", rows.Storage(), a.Storage())
	}
}
