package core

import "fmt"

// AttentionDims is how Backend.Attention reads its operands' shapes, shared by every backend:
// batch rows B, sequence length L, model width H·Dh and head dim Dh.
type AttentionDims struct {
	Batch, Seq, Model, HeadDim int
}

// AttentionShape checks the forward's operands — q, k, v, out [B, L, H·Dh], lse [B, H, L],
// keyMask [B, L] I32 — and returns their dimensions, or an error naming the first mismatch.
func AttentionShape(out, lse, q, k, v, keyMask *Tensor, heads int) (AttentionDims, error) {
	if q.Rank() != 3 || heads <= 0 || q.Dim(2)%heads != 0 {
		return AttentionDims{}, fmt.Errorf("attention needs q [B, L, H·Dh] divisible by %d heads, got %v", heads, q)
	}
	d := AttentionDims{Batch: q.Dim(0), Seq: q.Dim(1), Model: q.Dim(2), HeadDim: q.Dim(2) / heads}
	for _, t := range [...]*Tensor{k, v, out} {
		if !sameDims(t, d.Batch, d.Seq, d.Model) {
			return d, fmt.Errorf("attention: %v, want shape [%d %d %d]", t, d.Batch, d.Seq, d.Model)
		}
	}
	if !sameDims(lse, d.Batch, heads, d.Seq) {
		return d, fmt.Errorf("attention lse: %v, want shape [%d %d %d]", lse, d.Batch, heads, d.Seq)
	}
	if !sameDims(keyMask, d.Batch, d.Seq) || keyMask.DType() != I32 {
		return d, fmt.Errorf("attention key mask: %v, want I32 [%d %d]", keyMask, d.Batch, d.Seq)
	}
	return d, nil
}

// AttentionBackwardShape checks the backward's operands: the forward's, and dq, dk, dv, dOut
// shaped as q.
func AttentionBackwardShape(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *Tensor, heads int) (AttentionDims, error) {
	d, err := AttentionShape(out, lse, q, k, v, keyMask, heads)
	if err != nil {
		return d, fmt.Errorf("backward: %w", err)
	}
	for _, t := range [...]*Tensor{dq, dk, dv, dOut} {
		if !sameDims(t, d.Batch, d.Seq, d.Model) {
			return d, fmt.Errorf("attention backward: %v, want shape [%d %d %d]", t, d.Batch, d.Seq, d.Model)
		}
	}
	return d, nil
}

// sameDims reports whether t has exactly the given dimensions (without allocating).
func sameDims(t *Tensor, dims ...int) bool {
	if t.Rank() != len(dims) {
		return false
	}
	for i, n := range dims {
		if t.Dim(i) != n {
			return false
		}
	}
	return true
}
