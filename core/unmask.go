package core

import (
	"fmt"
	"slices"
)

// Check reports whether s, logits and p describe one valid UnmaskStep, so that every backend
// refuses the same inputs: the shapes and dtypes of UnmaskState for B rows of S tokens and
// logits [B, S, V], a block inside the completion, a mask id inside the vocabulary and a
// non-negative reveal count. It allocates only when it reports an error.
func (s UnmaskState) Check(logits *Tensor, p UnmaskParams) error {
	nb, seq := s.Tokens.Dim(0), s.Tokens.Dim(1)
	c := seq - p.PromptLen
	if logits.Rank() != 3 || logits.Dim(0) != nb || logits.Dim(1) != seq {
		return fmt.Errorf("logits %v for tokens %v", logits, s.Tokens)
	}
	v := logits.Dim(2)
	for _, e := range [...]struct {
		name  string
		t     *Tensor
		dtype DType
		dims  [3]int
		rank  int
	}{
		{"tokens", s.Tokens, I32, [3]int{nb, seq}, 2},
		{"logits", logits, F32, [3]int{nb, seq, v}, 3},
		{"reveal steps", s.RevealStep, I32, [3]int{nb, c}, 2},
		{"log-probabilities", s.LogP, F32, [3]int{nb, c}, 2},
		{"entropies", s.Entropy, F32, [3]int{nb, c}, 2},
		{"active rows", s.Active, I32, [3]int{nb}, 1},
		{"support", s.Support, F32, [3]int{nb, p.BlockEnd - p.BlockStart, v}, 3},
	} {
		if e.t == nil && e.name == "support" { // optional: only with top-k/top-p
			continue
		}
		if e.t.DType() != e.dtype || !SameShape(e.t.Shape(), e.dims[:e.rank]) {
			// A copy of the shape, so that the array does not escape on the path that succeeds.
			return fmt.Errorf("%s: got %v, want %v of shape %v", e.name, e.t, e.dtype, slices.Clone(e.dims[:e.rank]))
		}
	}
	if p.BlockStart < 0 || p.BlockEnd > c || p.BlockStart >= p.BlockEnd {
		return fmt.Errorf("block [%d, %d) outside a completion of %d", p.BlockStart, p.BlockEnd, c)
	}
	if p.MaskID < 0 || int(p.MaskID) >= v || p.Reveal < 0 {
		return fmt.Errorf("mask id %d in a vocabulary of %d, reveal %d", p.MaskID, v, p.Reveal)
	}
	return nil
}

// Rows is the state of rows [lo, hi) (views; s itself when that is every row), for an
// UnmaskStep over a chunk of the batch, whose RowOffset then grows by lo.
func (s UnmaskState) Rows(lo, hi int) UnmaskState {
	part := func(t *Tensor) *Tensor {
		if t == nil {
			return nil
		}
		return t.Part(lo, hi)
	}
	return UnmaskState{Tokens: part(s.Tokens), RevealStep: part(s.RevealStep), LogP: part(s.LogP),
		Entropy: part(s.Entropy), Support: part(s.Support), Active: part(s.Active)}
}
