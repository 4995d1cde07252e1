package model

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// benchSetup builds the demo model on the CPU with a batch of 64 × 64 random tokens.
func benchSetup(b *testing.B) (*Model, batchInput) {
	be := cpu.New()
	cfg := DemoConfig()
	p := NewParams(be, cfg)
	p.Init(be, cfg, 1)
	m := New(be, cfg, p)
	const batch, seq = 64, 64
	rng := rand.New(rand.NewPCG(1, 1))
	tok, mask, w := make([]int32, batch*seq), make([]int32, batch*seq), make([]float32, batch*seq)
	for i := range tok {
		tok[i], mask[i], w[i] = int32(rng.IntN(cfg.VocabSize)), 1, 1.0/float32(batch*seq)
	}
	in := batchInput{tokens: be.Alloc(core.I32, batch, seq), keyMask: be.Alloc(core.I32, batch, seq),
		targets: be.Alloc(core.I32, batch*seq), weights: be.Alloc(core.F32, batch*seq)}
	be.UploadInt(in.tokens, tok)
	be.UploadInt(in.keyMask, mask)
	be.UploadInt(in.targets, tok)
	be.Upload(in.weights, w)
	return m, in
}

// BenchmarkForward times the demo-size forward pass (64 × 64 tokens).
func BenchmarkForward(b *testing.B) {
	m, in := benchSetup(b)
	m.Forward(in.tokens, in.keyMask)
	for b.Loop() {
		m.Forward(in.tokens, in.keyMask)
	}
	b.ReportMetric(float64(in.tokens.Len())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkForwardBackward times forward + weighted cross-entropy + backward.
func BenchmarkForwardBackward(b *testing.B) {
	m, in := benchSetup(b)
	m.AllocGrads()
	lossAndGrad(m, in, true)
	for b.Loop() {
		lossAndGrad(m, in, true)
	}
	b.ReportMetric(float64(in.tokens.Len())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
