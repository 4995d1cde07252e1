package core

import (
	"strings"
	"testing"
)

// TestUnmaskCheck: a state of the documented shapes and dtypes passes; each wrong shape, dtype,
// block, mask id or reveal count is refused with an error naming it.
func TestUnmaskCheck(t *testing.T) {
	const nb, promptLen, c, v = 2, 3, 5, 7
	seq := promptLen + c
	i32 := func(shape ...int) *Tensor { return NewTensor(I32, make([]int32, NumElems(shape)), shape...) }
	f32 := func(shape ...int) *Tensor { return NewTensor(F32, make([]float32, NumElems(shape)), shape...) }
	state := func() UnmaskState {
		return UnmaskState{Tokens: i32(nb, seq), RevealStep: i32(nb, c), LogP: f32(nb, c), Entropy: f32(nb, c), Active: i32(nb)}
	}
	p := UnmaskParams{PromptLen: promptLen, BlockStart: 1, BlockEnd: c, Reveal: 2, MaskID: v - 1}
	logits := f32(nb, seq, v)
	if err := state().Check(logits, p); err != nil {
		t.Fatalf("valid state refused: %v", err)
	}
	withSupport := state()
	withSupport.Support = f32(nb, c-1, v) // the block [1, c)
	if err := withSupport.Check(logits, p); err != nil {
		t.Fatalf("valid state with a support refused: %v", err)
	}
	cases := []struct {
		name, want string
		edit       func(*UnmaskState, *UnmaskParams, **Tensor)
	}{
		{"logits of another length", "logits", func(_ *UnmaskState, _ *UnmaskParams, l **Tensor) { *l = f32(nb, seq+1, v) }},
		{"logits as I32", "logits", func(_ *UnmaskState, _ *UnmaskParams, l **Tensor) { *l = i32(nb, seq, v) }},
		{"reveal steps [B, C+1]", "reveal steps", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.RevealStep = i32(nb, c+1) }},
		{"log-probabilities as I32", "log-probabilities", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.LogP = i32(nb, c) }},
		{"entropies flat", "entropies", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.Entropy = f32(nb * c) }},
		{"active rows [B+1]", "active rows", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.Active = i32(nb + 1) }},
		{"support [B, block, V-1]", "support", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.Support = f32(nb, c-1, v-1) }},
		{"support [B, C, V] (the whole completion)", "support", func(s *UnmaskState, _ *UnmaskParams, _ **Tensor) { s.Support = f32(nb, c, v) }},
		{"empty block", "block", func(_ *UnmaskState, p *UnmaskParams, _ **Tensor) { p.BlockStart = p.BlockEnd }},
		{"block past the completion", "block", func(_ *UnmaskState, p *UnmaskParams, _ **Tensor) { p.BlockEnd = c + 1 }},
		{"mask id = V", "mask id", func(_ *UnmaskState, p *UnmaskParams, _ **Tensor) { p.MaskID = v }},
		{"negative reveal", "reveal", func(_ *UnmaskState, p *UnmaskParams, _ **Tensor) { p.Reveal = -1 }},
	}
	for _, tc := range cases {
		s, q, l := state(), p, logits
		tc.edit(&s, &q, &l)
		if err := s.Check(l, q); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}
