package sampler

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// TestStepAllocs checks that a steady-state sampler step on the CPU backend (a forward pass and
// an UnmaskStep with top-k, top-p, a recorded support and entropy remasking) allocates nothing.
func TestStepAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is measured in full runs")
	}
	m := testModel(t)
	b, cfg := m.B, m.Cfg
	const nb, promptLen, c = 6, 4, 8
	seq, v := promptLen+c, cfg.VocabSize
	tok, keyMask := make([]int32, nb*seq), ones(nb*seq)
	for r := 0; r < nb; r++ {
		for i := 0; i < seq; i++ {
			tok[r*seq+i] = int32(cfg.MaskID)
			if i < promptLen {
				tok[r*seq+i] = int32((r + i) % 7)
			}
		}
	}
	steps := make([]int32, nb*c)
	for i := range steps {
		steps[i] = -1
	}
	st := core.UnmaskState{
		Tokens: b.Alloc(core.I32, nb, seq), RevealStep: b.Alloc(core.I32, nb, c),
		LogP: b.Alloc(core.F32, nb, c), Entropy: b.Alloc(core.F32, nb, c),
		Support: b.Alloc(core.F32, nb, c, v), Active: b.Alloc(core.I32, nb),
	}
	keyMaskT := b.Alloc(core.I32, nb, seq)
	b.UploadInt(st.Active, ones(nb))
	b.UploadInt(keyMaskT, keyMask)
	step := func() {
		// Restart from a fully masked completion, so every run draws every position.
		b.UploadInt(st.Tokens, tok)
		b.UploadInt(st.RevealStep, steps)
		logits := m.Forward(st.Tokens, keyMaskT)
		b.UnmaskStep(st, logits, core.UnmaskParams{
			PromptLen: promptLen, BlockStart: 0, BlockEnd: c, Reveal: 3, Step: 1,
			Temperature: 0.7, TopK: 5, TopP: 0.9, Remasking: core.LowEntropy, Seed: 3, MaskID: int32(cfg.MaskID),
		})
	}
	step()
	if a := testing.AllocsPerRun(20, step); a != 0 {
		t.Errorf("steady-state sampler step: %v allocations, want 0", a)
	}
}
