package model

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/half"
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

// BenchmarkForwardBackwardLoRA is BenchmarkForwardBackward with LoRA (r 16, α 16) on every
// module and the head, the base frozen: the base's weight gradients are skipped, the adapters'
// four small matmuls per module added. Run interleaved with it: -bench ForwardBackward -count N.
func BenchmarkForwardBackwardLoRA(b *testing.B) {
	m, in := benchSetup(b)
	if err := m.AttachLoRA(LoRAConfig{R: 16, Alpha: 16, Targets: Modules}, 1); err != nil {
		b.Fatal(err)
	}
	m.AllocGrads()
	lossAndGrad(m, in, true)
	for b.Loop() {
		lossAndGrad(m, in, true)
	}
	b.ReportMetric(float64(in.tokens.Len())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkForward16 times the forward pass of a ~100 M-parameter model (d_model 768, 12
// layers, 12 heads on 4 key/value heads, MLP 2048, vocabulary 32,000: 124.7 M) on one row of 256
// tokens, with its 2-D weights held as BF16 (read by the matmuls, widened while packing) and
// with the same values widened to F32. Run the two interleaved: -bench Forward16 -count N.
func BenchmarkForward16(b *testing.B) {
	cfg := Config{VocabSize: 32000, DModel: 768, Layers: 12, Heads: 12, KVHeads: 4, MLPHidden: 2048,
		MaxSeqLen: 256, RopeTheta: 10000, NormEps: 1e-5, MaskID: 31999, EOSID: 31998, PadID: 31998}
	for _, dt := range []core.DType{core.F32, core.BF16} {
		b.Run(dt.String(), func(b *testing.B) {
			be := cpu.New()
			rng := rand.New(rand.NewPCG(1, 2))
			shapes := cfg.Shapes()
			ts := make([]*core.Tensor, len(shapes))
			var weightBytes int
			for i, s := range shapes {
				n := core.NumElems(s.Shape)
				bits := make([]uint16, n)
				for j := range bits {
					bits[j] = half.Float32ToBF16(float32(rng.NormFloat64() * 0.02))
					if len(s.Shape) == 1 {
						bits[j] = half.Float32ToBF16(1)
					}
				}
				if dt == core.BF16 && len(s.Shape) == 2 {
					ts[i] = be.Alloc(core.BF16, s.Shape...)
					be.Upload16(ts[i], bits)
					weightBytes += 2 * n
					continue
				}
				v := make([]float32, n)
				for j, h := range bits {
					v[j] = half.BF16ToFloat32(h)
				}
				ts[i] = be.Alloc(core.F32, s.Shape...)
				be.Upload(ts[i], v)
				weightBytes += 4 * n
			}
			m := New(be, cfg, fromList(cfg, ts))
			const seq = 256
			tok, mask := make([]int32, seq), make([]int32, seq)
			for i := range tok {
				tok[i], mask[i] = int32(rng.IntN(cfg.VocabSize)), 1
			}
			tokens, keyMask := be.Alloc(core.I32, 1, seq), be.Alloc(core.I32, 1, seq)
			be.UploadInt(tokens, tok)
			be.UploadInt(keyMask, mask)
			m.Forward(tokens, keyMask)
			for b.Loop() {
				m.Forward(tokens, keyMask)
			}
			b.ReportMetric(float64(seq)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(weightBytes)/1e6, "weight-MB")
		})
	}
}
