package pg

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/backendtest"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
)

// A vocabulary large enough that per-vocabulary buffers stand out: no other dimension of the
// chunk tests' model or batches is chunkV, so a tensor whose last dimension is chunkV is one.
const (
	chunkV    = 301
	chunkMask = chunkV - 1
	chunkSeq  = 2 + 6 // prompt + completion
)

// chunkModel is a random model with a chunkV vocabulary on backend b (the same weights on every
// backend), whose head runs in chunks of chunkRows rows (0: the default budget, one chunk here).
func chunkModel(t *testing.T, b core.Backend, chunkRows int) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: chunkV, DModel: 16, Layers: 1, Heads: 2, MLPHidden: 24, MaxSeqLen: chunkSeq,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: chunkMask, EOSID: 0, PadID: 0}
	m := randomModel(b, cfg, rand.New(rand.NewPCG(7, 7)), 2)
	m.ChunkBytes = 4 * chunkV * chunkRows
	m.AllocGrads()
	return m
}

// chunkRollouts samples nb completions of chunkModel's prompts on m.
func chunkRollouts(t *testing.T, m *model.Model, nb int, c sampler.Config) *Rollouts {
	t.Helper()
	prompts := make([]sampler.Prompt, nb)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: []int32{int32(1 + i%5), int32(7 + i%11)}}
	}
	tr, err := sampler.Generate(m, prompts, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	adv := make([]float64, nb)
	for i := range adv {
		adv[i] = float64(tr.Completion(i)[0]%5) - 2
	}
	return &Rollouts{Traj: tr, Adv: adv}
}

// chunkSampling is the rollout setting of the chunk tests: low-confidence order, so that the
// exact likelihood has a selection factor; a top-k cut when topK > 0.
func chunkSampling(topK int) sampler.Config {
	return sampler.Config{GenLength: 6, BlockLength: 3, Steps: 4, Temperature: 0.9, TopK: topK,
		Remasking: core.LowConfidence, Seed: 5}
}

// agrpoGrad runs AGRPO's Prepare (μ = 2, so π_old's selection factor is scored too) and one
// update on r and returns the accumulated gradient.
func agrpoGrad(t *testing.T, m *model.Model, r *Rollouts) []float64 {
	t.Helper()
	est, err := NewAGRPO(AGRPOConfig{MCSamples: 2, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Iterations: 2, Scaling: SumScaling, Temperature: r.Traj.Config.Temperature, Likelihood: ExactLikelihood})
	if err != nil {
		t.Fatal(err)
	}
	if err := est.Prepare(m, r, nil); err != nil {
		t.Fatal(err)
	}
	m.Grads.Zero(m.B, m.Cfg)
	if _, err := est.Accumulate(m, nil, r, 0, rand.New(rand.NewPCG(9, 9))); err != nil {
		t.Fatal(err)
	}
	return flatGrad(m, 1)
}

// TestChunkedMemory: the per-vocabulary memory of a sampling pass and an AGRPO update (the
// exact likelihood: token log-probabilities, untempered confidences, the selection factor and
// their backward) is bounded by the head's two chunk buffers, whatever the batch: the peak of
// the live tensors shaped [..., V] is the same at 4 and at 16 rollouts, 2 × 8 rows × V floats.
// Before the head ran in chunks, the model's logits, the scorer's bias and its dLogits were
// each [rows, V].
func TestChunkedMemory(t *testing.T) {
	const rows = 8
	peak := func(nb int) int64 {
		cb := &backendtest.Counting{Backend: cpu.New(), Match: func(shape []int) bool { return shape[len(shape)-1] == chunkV }}
		m := chunkModel(t, cb, rows)
		sampled := chunkRollouts(t, m, nb, chunkSampling(0))
		agrpoGrad(t, m, sampled)
		return cb.Peak
	}
	small, large := peak(4), peak(16)
	bound := int64(2 * max(rows, chunkSeq) * chunkV * 4)
	t.Logf("peak of the [..., V] tensors: %d bytes at 4 rollouts, %d at 16 (bound %d)", small, large, bound)
	if large != small || large > bound {
		t.Errorf("per-vocabulary memory grows with the batch: peak %d bytes at 4 rollouts, %d at 16; want both ≤ %d", small, large, bound)
	}
}

// TestChunkedMatchesWhole: sampling and an AGRPO update with the head in chunks of 8 rows give
// what one chunk gives — the same tokens, the same records, and the same gradient up to the
// order in which the head's weight gradient adds the chunks — with and without a top-k cut.
func TestChunkedMatchesWhole(t *testing.T) {
	for _, topK := range []int{0, 7} {
		whole, chunked := chunkModel(t, cpu.New(), 0), chunkModel(t, cpu.New(), 8)
		rw, rc := chunkRollouts(t, whole, 12, chunkSampling(topK)), chunkRollouts(t, chunked, 12, chunkSampling(topK))
		for i := range rw.Traj.Tokens {
			if rw.Traj.Tokens[i] != rc.Traj.Tokens[i] || rw.Traj.RevealStep[i] != rc.Traj.RevealStep[i] || rw.Traj.LogP[i] != rc.Traj.LogP[i] {
				t.Fatalf("top_k %d: position %d sampled %d at step %d (log p %g) in chunks, %d at %d (%g) at once", topK, i,
					rc.Traj.Tokens[i], rc.Traj.RevealStep[i], rc.Traj.LogP[i], rw.Traj.Tokens[i], rw.Traj.RevealStep[i], rw.Traj.LogP[i])
			}
		}
		gw, gc := agrpoGrad(t, whole, rw), agrpoGrad(t, chunked, rw)
		if e := relL2(gc, gw); e > 1e-6 {
			t.Errorf("top_k %d: the chunked gradient differs from the whole one by %.2g (relative L2)", topK, e)
		}
	}
}

// TestSupportRecordMemory: with a top-k cut the sampler records each step's draw supports as
// kept ids on the host, so the device's per-vocabulary memory does not grow with the number of
// steps (it kept a [steps, B, C, V] history before) and holds one step's supports of the block
// only, and each recorded support holds at most top_k ids.
func TestSupportRecordMemory(t *testing.T) {
	const topK = 7
	peak := func(steps int) int64 {
		cb := &backendtest.Counting{Backend: cpu.New(), Match: func(shape []int) bool { return shape[len(shape)-1] == chunkV }}
		m := chunkModel(t, cb, 0)
		c := chunkSampling(topK)
		c.Steps = steps
		r := chunkRollouts(t, m, 4, c)
		tr := r.Traj
		for row := 0; row < tr.B; row++ {
			for k := 0; k < tr.StepsRun; k++ {
				lo, hi := tr.StepBlock(k)
				for j := lo; j < hi; j++ {
					if n := len(tr.DrawSupport(row, k, j)); n > topK {
						t.Fatalf("step %d row %d position %d: %d kept ids with top_k %d", k, row, j, n, topK)
					}
				}
			}
		}
		return cb.Peak
	}
	few, many := peak(2), peak(6)
	// The head's two chunk buffers (one chunk: every row) and the step's supports of the block
	// (BlockLength positions, not the whole completion).
	want := int64(4 * chunkV * (2*4*chunkSeq + 4*chunkSampling(topK).BlockLength))
	t.Logf("peak of the [..., V] tensors while sampling: %d bytes at 2 steps, %d at 6 (want %d)", few, many, want)
	if many != few || few != want {
		t.Errorf("the support record grows with the steps or the answer: peak %d bytes at 2 steps, %d at 6; want %d", few, many, want)
	}
}
