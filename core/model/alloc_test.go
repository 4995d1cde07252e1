package model

import (
	"reflect"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// TestTrainStepAllocs checks that a steady-state training step on the CPU backend (forward,
// cross-entropy, token log-probs, backward, gradient clipping and AdamW at a fixed shape)
// allocates nothing: ops dispatch to a persistent worker pool and reuse their scratch, and the
// model caches its activation views.
func TestTrainStepAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is measured in full runs")
	}
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 1)
	m.AllocGrads()
	const batch, seq = 6, 12
	in := randomBatch(b, cfg, batch, seq, 2)
	n := batch * seq
	loss := b.Alloc(core.F32, 1)
	dl := b.Alloc(core.F32, batch, seq, cfg.VocabSize)
	dlFlat := dl.Reshape(n, cfg.VocabSize)
	logp, ent := b.Alloc(core.F32, n), b.Alloc(core.F32, n)
	norm := b.Alloc(core.F32, 1)
	var params, grads, ms, vs []*core.Tensor
	for i, p := range m.P.List(cfg) {
		params = append(params, p.Tensor)
		grads = append(grads, m.Grads.List(cfg)[i].Tensor)
		ms = append(ms, b.Alloc(core.F32, p.Tensor.Shape()...))
		vs = append(vs, b.Alloc(core.F32, p.Tensor.Shape()...))
	}
	h := core.AdamHyper{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	var logitsFlat *core.Tensor
	step := 0
	trainStep := func() {
		logits := m.Forward(in.tokens, in.keyMask)
		if logitsFlat == nil {
			logitsFlat = logits.Reshape(n, cfg.VocabSize)
		}
		b.CrossEntropy(loss, dlFlat, logitsFlat, in.targets, in.weights)
		b.TokenLogProbs(logp, ent, logitsFlat, in.targets, nil, 1)
		m.Backward(dl)
		b.ClipGradNorm(norm, grads, 1e-3) // small enough to rescale
		step++
		for i := range params {
			b.AdamW(params[i], grads[i], ms[i], vs[i], step, h)
			b.Fill(grads[i], 0)
		}
	}
	trainStep() // sizes buffers, starts the pool, fills caches
	if a := testing.AllocsPerRun(20, trainStep); a != 0 {
		t.Errorf("steady-state training step: %v allocations, want 0", a)
	}
}

// TestForwardAllocs checks a steady-state Forward alone, including after a smaller batch has
// been run through the same buffers and the shape returns.
func TestForwardAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is measured in full runs")
	}
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 1)
	in := randomBatch(b, cfg, 5, 12, 3)
	m.Forward(in.tokens, in.keyMask)
	if a := testing.AllocsPerRun(20, func() { m.Forward(in.tokens, in.keyMask) }); a != 0 {
		t.Errorf("steady-state Forward: %v allocations, want 0", a)
	}
}

// TestActivationBytes: the estimate the memory check uses equals what allocActs allocates,
// counted here tensor by tensor through reflection.
func TestActivationBytes(t *testing.T) {
	cfg := DemoConfig()
	b := cpu.New()
	m := New(b, cfg, NewParams(b, cfg))
	const batch, seq = 3, 29
	a := m.allocActs(batch, seq)
	var elems int
	walk := func(v reflect.Value) {
		for i := range v.NumField() {
			f := v.Field(i)
			if f.Type() == reflect.TypeOf((*core.Tensor)(nil)) && !f.IsNil() {
				elems += (*core.Tensor)(f.UnsafePointer()).Len()
			}
		}
	}
	walk(reflect.ValueOf(a).Elem())
	for i := range a.layers {
		walk(reflect.ValueOf(&a.layers[i]).Elem())
	}
	if got, want := cfg.ActivationBytes(batch, seq), float64(4*elems); got != want {
		t.Fatalf("ActivationBytes(%d, %d) = %.0f, allocActs allocates %.0f bytes", batch, seq, got, want)
	}
}
