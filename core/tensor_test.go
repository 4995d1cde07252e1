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
