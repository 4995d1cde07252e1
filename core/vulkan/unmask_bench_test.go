//go:build linux && cgo

package vulkan

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// BenchmarkUnmaskStep times one UnmaskStep and its Sync at a rollout's shape (B = 128 rows of a
// 13-token prompt and a 12-token completion, V = 22, the block the whole completion, one reveal
// per step, T = 0.6, low-confidence remasking, support recorded), from a fully masked completion,
// so every position is drawn. Restoring that state between iterations is not timed.
func BenchmarkUnmaskStep(b *testing.B) {
	be, err := New(Options{Device: Auto, AllowCPU: true})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer be.Close()
	const nb, promptLen, c, v = 128, 13, 12, 22
	const seq, maskID = promptLen + c, v - 1
	rng := rand.New(rand.NewPCG(1, 2))
	lv := make([]float32, nb*seq*v)
	for i := range lv {
		lv[i] = float32(rng.NormFloat64() * 2)
	}
	tok, steps, active := make([]int32, nb*seq), make([]int32, nb*c), make([]int32, nb)
	for r := range nb {
		for i := range seq {
			tok[r*seq+i] = maskID
			if i < promptLen {
				tok[r*seq+i] = int32(rng.IntN(maskID))
			}
		}
		active[r] = 1
	}
	for i := range steps {
		steps[i] = -1
	}
	logits := be.Alloc(core.F32, nb, seq, v)
	be.Upload(logits, lv)
	st := core.UnmaskState{Tokens: be.Alloc(core.I32, nb, seq), RevealStep: be.Alloc(core.I32, nb, c),
		LogP: be.Alloc(core.F32, nb, c), Entropy: be.Alloc(core.F32, nb, c),
		Support: be.Alloc(core.F32, nb, c, v), Active: be.Alloc(core.I32, nb)}
	be.UploadInt(st.Active, active)
	p := core.UnmaskParams{PromptLen: promptLen, BlockStart: 0, BlockEnd: c, Reveal: 1,
		Temperature: 0.6, Remasking: core.LowConfidence, Seed: 7, MaskID: maskID}
	reset := func() {
		be.UploadInt(st.Tokens, tok)
		be.UploadInt(st.RevealStep, steps)
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	reset()
	be.UnmaskStep(st, logits, p) // warm-up: pipeline creation and JIT
	reset()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		reset()
		b.StartTimer()
		p.Step = i
		be.UnmaskStep(st, logits, p)
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
