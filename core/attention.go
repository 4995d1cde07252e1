package core

import "fmt"

// AttentionDims is how Backend.Attention reads its operands' shapes, shared by every backend:
// batch rows B, sequence length L, query width H·Dh, head dim Dh, and the key/value heads Hkv
// with their width Hkv·Dh (grouped-query attention when Hkv < H).
type AttentionDims struct {
	Batch, Seq, Model, HeadDim int
	KVHeads, KVModel           int
}

// Group is the number of query heads that share one key/value head: query head h reads
// key/value head h/Group (LLaDA's repeat_interleave of k and v).
func (d AttentionDims) Group() int { return d.Model / d.KVModel }

// AttentionShape checks the forward's operands — q, out [B, L, H·Dh], k, v [B, L, Hkv·Dh] with
// Hkv dividing H, lse [B, H, L], keyMask [B, L] I32 — and returns their dimensions, or an error
// naming the first mismatch. The number of key/value heads is read from k's width.
func AttentionShape(out, lse, q, k, v, keyMask *Tensor, heads int) (AttentionDims, error) {
	if q.Rank() != 3 || heads <= 0 || q.Dim(2)%heads != 0 {
		return AttentionDims{}, fmt.Errorf("attention needs q [B, L, H·Dh] divisible by %d heads, got %v", heads, q)
	}
	d := AttentionDims{Batch: q.Dim(0), Seq: q.Dim(1), Model: q.Dim(2), HeadDim: q.Dim(2) / heads}
	if k.Rank() != 3 || k.Dim(2)%d.HeadDim != 0 || heads%(k.Dim(2)/d.HeadDim) != 0 {
		return d, fmt.Errorf("attention: k %v must be [%d %d Hkv·%d] with Hkv dividing %d heads", k, d.Batch, d.Seq, d.HeadDim, heads)
	}
	d.KVHeads = k.Dim(2) / d.HeadDim
	d.KVModel = k.Dim(2)
	for _, t := range [...]*Tensor{k, v} {
		if !sameDims(t, d.Batch, d.Seq, d.KVModel) {
			return d, fmt.Errorf("attention: %v, want shape [%d %d %d]", t, d.Batch, d.Seq, d.KVModel)
		}
	}
	if !sameDims(out, d.Batch, d.Seq, d.Model) {
		return d, fmt.Errorf("attention: out %v, want shape [%d %d %d]", out, d.Batch, d.Seq, d.Model)
	}
	if !sameDims(lse, d.Batch, heads, d.Seq) {
		return d, fmt.Errorf("attention lse: %v, want shape [%d %d %d]", lse, d.Batch, heads, d.Seq)
	}
	if !sameDims(keyMask, d.Batch, d.Seq) || keyMask.DType() != I32 {
		return d, fmt.Errorf("attention key mask: %v, want I32 [%d %d]", keyMask, d.Batch, d.Seq)
	}
	return d, nil
}

// AttentionBackwardShape checks the backward's operands: the forward's, dq and dOut shaped as
// q, and dk, dv shaped as k.
func AttentionBackwardShape(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *Tensor, heads int) (AttentionDims, error) {
	d, err := AttentionShape(out, lse, q, k, v, keyMask, heads)
	if err != nil {
		return d, fmt.Errorf("backward: %w", err)
	}
	for _, t := range [...]*Tensor{dq, dOut} {
		if !sameDims(t, d.Batch, d.Seq, d.Model) {
			return d, fmt.Errorf("attention backward: %v, want shape [%d %d %d]", t, d.Batch, d.Seq, d.Model)
		}
	}
	for _, t := range [...]*Tensor{dk, dv} {
		if !sameDims(t, d.Batch, d.Seq, d.KVModel) {
			return d, fmt.Errorf("attention backward: %v, want shape [%d %d %d]", t, d.Batch, d.Seq, d.KVModel)
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
