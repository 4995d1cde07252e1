package cpu_test

import (
	"runtime"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// opCase is one op of the backend that splits its work over the pool, with its operands ready.
type opCase struct {
	name string
	run  func()
}

// opCases returns every op that runs on the pool, at the demo model's shapes (width 128, 4
// heads, MLP 384, vocabulary 32) on nb rows of seq tokens.
func opCases(be *cpu.Backend, nb, seq int) []opCase {
	const d, heads, hidden, v = 128, 4, 384, 32
	n := nb * seq
	f := func(shape ...int) *core.Tensor {
		t := be.Alloc(core.F32, shape...)
		x := make([]float32, t.Len())
		for i := range x {
			x[i] = float32(i%13-6) / 8
		}
		be.Upload(t, x)
		return t
	}
	ints := func(mod int32, shape ...int) *core.Tensor {
		t := be.Alloc(core.I32, shape...)
		x := make([]int32, t.Len())
		for i := range x {
			x[i] = int32(i*7) % mod
		}
		be.UploadInt(t, x)
		return t
	}
	x, y, out := f(n, d), f(n, d), f(n, d)
	gate, up, h, dGate, dUp := f(n, hidden), f(n, hidden), f(n, hidden), f(n, hidden), f(n, hidden)
	ids, table, dTable := ints(v, n), f(v, d), f(v, d)
	table16 := be.Alloc(core.BF16, v, d)
	be.Upload16(table16, make([]uint16, v*d))
	w, dw, rstd := f(d), f(d), f(n)
	logits, dLogits, lsm := f(n, v), f(n, v), f(n, v)
	targets, weights, loss := ints(v, n), f(n), f(1)
	logp, ent, dLogp, dEnt := f(n), f(n), f(n), f(n)
	kappa, rule := f(n), ints(3, n)
	sel := core.SelectionParams{InvTemp: 1, Tol: 1e-3}
	q, k, vv, att, dq, dk, dv := f(nb, seq, d), f(nb, seq, d), f(nb, seq, d), f(nb, seq, d), f(nb, seq, d), f(nb, seq, d), f(nb, seq, d)
	lse, keyMask := f(nb, heads, seq), be.Alloc(core.I32, nb, seq)
	be.UploadInt(keyMask, ones(n))
	param, grad, m1, m2 := f(d, hidden), f(d, hidden), f(d, hidden), f(d, hidden)
	adam := core.AdamHyper{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	ba, bb, bc := f(nb, seq, 16), f(nb, 16, seq), f(nb, seq, seq)
	const prompt = 5
	c := seq - prompt
	tokens := make([]int32, n)
	for i := range tokens {
		tokens[i] = int32(v - 1) // the mask id
	}
	steps := make([]int32, nb*c)
	for i := range steps {
		steps[i] = -1
	}
	st := core.UnmaskState{Tokens: be.Alloc(core.I32, nb, seq), RevealStep: be.Alloc(core.I32, nb, c),
		LogP: be.Alloc(core.F32, nb, c), Entropy: be.Alloc(core.F32, nb, c),
		Support: be.Alloc(core.F32, nb, c, v), Active: be.Alloc(core.I32, nb)}
	be.UploadInt(st.Active, ones(nb))
	dOut, logits3 := y.Reshape(nb, seq, d), logits.Reshape(nb, seq, v)
	unmask := core.UnmaskParams{PromptLen: prompt, BlockStart: 0, BlockEnd: c, Reveal: 4, Step: 1,
		Temperature: 0.7, TopK: 8, TopP: 0.9, Remasking: core.LowEntropy, Seed: 3, MaskID: int32(v - 1)}
	return []opCase{
		{"Copy", func() { be.Copy(out, x) }},
		{"Add", func() { be.Add(out, x, y) }},
		{"Scale", func() { be.Scale(out, 1) }},
		{"SwiGLU", func() { be.SwiGLU(h, gate, up) }},
		{"SwiGLUBackward", func() { be.SwiGLUBackward(dGate, dUp, h, gate, up) }},
		{"Embedding", func() { be.Embedding(out, table, ids) }},
		{"Embedding16", func() { be.Embedding(out, table16, ids) }},
		{"EmbeddingBackward", func() { be.EmbeddingBackward(dTable, y, ids) }},
		{"RMSNorm", func() { be.RMSNorm(out, rstd, x, w, 1e-5) }},
		{"RMSNormBackward", func() { be.RMSNormBackward(out, dw, y, x, w, rstd) }},
		{"LogSoftmax", func() { be.LogSoftmax(lsm, logits) }},
		{"LogSoftmaxBackward", func() { be.LogSoftmaxBackward(dLogits, logits, lsm) }},
		{"CrossEntropy", func() { be.CrossEntropy(loss, dLogits, logits, targets, weights) }},
		{"TokenLogProbs", func() { be.TokenLogProbs(logp, ent, logits, targets, nil, 1) }},
		{"TokenLogProbsBackward", func() { be.TokenLogProbsBackward(dLogits, dLogp, dEnt, logits, targets, nil, 1) }},
		{"SelectionLogProbs", func() { be.SelectionLogProbs(logp, logits, nil, kappa, rule, sel) }},
		{"SelectionLogProbsBackward", func() { be.SelectionLogProbsBackward(dLogits, dLogp, logits, nil, kappa, rule, sel) }},
		{"Attention", func() { be.Attention(att, lse, q, k, vv, keyMask, heads) }},
		{"AttentionBackward", func() { be.AttentionBackward(dq, dk, dv, dOut, q, k, vv, att, lse, keyMask, heads) }},
		{"RoPE", func() { be.RoPE(q, heads, 10000) }},
		{"RoPEBackward", func() { be.RoPEBackward(q, heads, 10000) }},
		{"AdamW", func() { be.AdamW(param, grad, m1, m2, 1, adam) }},
		{"MatMulBatched", func() { be.MatMul(bc, ba, bb, false, false, 1, 0) }},
		{"UnmaskStep", func() {
			be.UploadInt(st.Tokens, tokens)
			be.UploadInt(st.RevealStep, steps)
			be.UnmaskStep(st, logits3, unmask)
		}},
	}
}

func ones(n int) []int32 {
	x := make([]int32, n)
	for i := range x {
		x[i] = 1
	}
	return x
}

// TestOpAllocs: every op that runs on the pool allocates nothing in steady state, with the
// work split over four threads (the pool's goroutines take part, not the caller alone).
func TestOpAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is measured in full runs")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	be := cpu.New()
	for _, op := range opCases(be, 32, 25) {
		op.run() // sizes the scratch, starts the pool, makes the op's slot
		if a := testing.AllocsPerRun(10, op.run); a != 0 {
			t.Errorf("%s: %v allocations per call, want 0", op.name, a)
		}
	}
}

// BenchmarkOps times each op that runs on the pool at a rollout's shape (128 rows of 25
// tokens); -cpu sets the backend's threads.
func BenchmarkOps(b *testing.B) {
	be := cpu.New()
	for _, op := range opCases(be, 128, 25) {
		b.Run(op.name, func(b *testing.B) {
			op.run()
			for b.Loop() {
				op.run()
			}
		})
	}
}
