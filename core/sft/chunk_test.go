package sft

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/backendtest"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
)

const chunkV = 301 // no other dimension of the test is 301

// stepModel is a random model with a chunkV vocabulary on b whose head runs in chunks of rows
// rows (0: one chunk).
func stepModel(b core.Backend, rows int) *model.Model {
	cfg := model.Config{VocabSize: chunkV, DModel: 16, Layers: 1, Heads: 2, MLPHidden: 24, MaxSeqLen: 8,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: chunkV - 1, EOSID: 0, PadID: 0}
	p := model.NewParams(b, cfg)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		for i := range v {
			v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(n.Tensor.Dim(-1))))
			if n.Tensor.Rank() == 1 {
				v[i] = 1 + v[i]
			}
		}
		b.Upload(n.Tensor, v)
	}
	m := model.New(b, cfg, p)
	m.ChunkBytes = 4 * chunkV * rows
	m.AllocGrads()
	return m
}

// stepBatch is a noised batch of nb examples of 3 prompt and 5 answer tokens.
func stepBatch(t *testing.T, nb int) *Noised {
	t.Helper()
	rng := rand.New(rand.NewPCG(6, 6))
	batch := make([]Example, nb)
	for r := range batch {
		ex := Example{Prompt: make([]int32, 3), PromptMask: []int32{1, 1, 1}, Answer: make([]int32, 5)}
		for i := range ex.Prompt {
			ex.Prompt[i] = int32(rng.IntN(chunkV - 1))
		}
		for i := range ex.Answer {
			ex.Answer[i] = int32(rng.IntN(chunkV - 1))
		}
		batch[r] = ex
	}
	n, err := Noise(batch, chunkV-1, rng)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func grads(m *model.Model) []float64 {
	var out []float64
	for _, g := range m.Grads.Tensors(m.Cfg) {
		v := make([]float32, g.Len())
		m.B.Download(g, v)
		for _, x := range v {
			out = append(out, float64(x))
		}
	}
	return out
}

// TestStepChunked: a step with the head in chunks of 8 rows gives the loss and gradient of one
// chunk (up to the order of the chunks' sums), and its per-vocabulary memory — the peak of the
// live tensors shaped [..., V] — is the two chunk buffers at 6 and at 24 examples alike
// (before, the model's logits and the step's dLogits were each [rows, V]).
func TestStepChunked(t *testing.T) {
	n := stepBatch(t, 6)
	whole, chunked := stepModel(cpu.New(), 0), stepModel(cpu.New(), 8)
	lw, lc := Step(whole, n, &Buffers{}), Step(chunked, n, &Buffers{})
	if math.Abs(lc-lw) > 1e-6*math.Abs(lw) {
		t.Errorf("loss %g in chunks, %g at once", lc, lw)
	}
	gw, gc := grads(whole), grads(chunked)
	var num, den float64
	for i := range gw {
		num += (gc[i] - gw[i]) * (gc[i] - gw[i])
		den += gw[i] * gw[i]
	}
	if e := math.Sqrt(num / den); e > 1e-6 {
		t.Errorf("the chunked gradient differs from the whole one by %.2g (relative L2)", e)
	}

	peak := func(nb int) int64 {
		cb := &backendtest.Counting{Backend: cpu.New(), Match: func(shape []int) bool { return shape[len(shape)-1] == chunkV }}
		Step(stepModel(cb, 8), stepBatch(t, nb), &Buffers{})
		return cb.Peak
	}
	small, large := peak(6), peak(24)
	if bound := int64(2 * 8 * chunkV * 4); small != large || large > bound {
		t.Errorf("per-vocabulary memory grows with the batch: peak %d bytes at 6 examples, %d at 24; want both ≤ %d", small, large, bound)
	}
}
