package pg

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/sampler"
)

// reducer sums vectors over n goroutines, each calling sum once per round, as MPI_Allreduce
// sums over ranks.
type reducer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	n, in    int
	round    int
	acc, out []float64
}

func newReducer(n int) *reducer {
	r := &reducer{n: n}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *reducer) sum(x []float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.in == 0 {
		r.acc = make([]float64, len(x))
	}
	for i, v := range x {
		r.acc[i] += v
	}
	r.in++
	if round := r.round; r.in == r.n {
		r.out, r.in = r.acc, 0
		r.round++
		r.cond.Broadcast()
	} else {
		for round == r.round {
			r.cond.Wait()
		}
	}
	copy(x, r.out)
	return nil
}

// TestShards: a batch split into parts, each sampled with its row offset and given its Shard,
// accumulates gradients that sum to the whole batch's, with the losses summing likewise, and
// leaves the random stream where the whole batch leaves it — for AGRPO (stratified draws,
// entropy importance, the exact likelihood, μ = 2) and diffu-GRPO (prompt masks drawn per real
// prompt token, rows with none among them, μ = 2).
func TestShards(t *testing.T) {
	const rows = 10
	cuts := [][2]int{{0, 3}, {3, 4}, {4, rows}}
	prompts := make([]sampler.Prompt, rows)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt, Mask: []int32{int32(min(1, i%3))}}
	}
	adv := make([]float64, rows)
	for i := range adv {
		adv[i] = math.Sin(float64(i))
	}
	agrpo := func() Estimator {
		e, err := NewAGRPO(AGRPOConfig{MCSamples: 2, Importance: EntropyWeighted, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.28,
			Iterations: 2, Scaling: MeanScaling, Temperature: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	diffu := func() Estimator {
		e, err := NewDiffuGRPO(DiffuGRPOConfig{PMaskPrompt: 0.5, Eps: 0.2, Iterations: 2})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cfg := sampler.Config{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.9, Remasking: core.LowConfidence, Seed: 5}
	for _, newEst := range []func() Estimator{agrpo, diffu} {
		// run does the step's two updates on rows [lo, hi) and returns the gradients of each,
		// the losses and the next number of the random stream.
		run := func(lo, hi int, sum func([]float64) error) (grads [][]float32, loss float64, next uint64, err error) {
			m := toyModel(t)
			c := cfg
			c.RowOffset = lo
			tr, err := sampler.Generate(m, prompts[lo:hi], c, nil)
			if err != nil {
				return nil, 0, 0, err
			}
			r := &Rollouts{Traj: tr, Adv: adv[lo:hi]}
			if sum != nil {
				r.Shard = &Shard{Offset: lo, Total: rows, Sum: sum}
			}
			est := newEst()
			rng := rand.New(rand.NewPCG(7, 8))
			if err := est.Prepare(m, r, rng); err != nil {
				return nil, 0, 0, err
			}
			for it := range est.Iterations() {
				m.Grads.Zero(m.B, m.Cfg)
				st, err := est.Accumulate(m, nil, r, it, rng)
				if err != nil {
					return nil, 0, 0, err
				}
				loss += st.Loss
				var g []float32
				for _, x := range m.Grads.Tensors(m.Cfg) {
					v := make([]float32, x.Len())
					m.B.Download(x, v)
					g = append(g, v...)
				}
				grads = append(grads, g)
			}
			return grads, loss, rng.Uint64(), nil
		}
		wantG, wantLoss, wantNext, err := run(0, rows, nil)
		if err != nil {
			t.Fatal(err)
		}
		red := newReducer(len(cuts))
		type result struct {
			grads [][]float32
			loss  float64
			next  uint64
			err   error
		}
		res := make([]result, len(cuts))
		var wg sync.WaitGroup
		for i, cut := range cuts {
			wg.Go(func() {
				g, l, n, err := run(cut[0], cut[1], red.sum)
				res[i] = result{g, l, n, err}
			})
		}
		wg.Wait()
		name := newEst().Name()
		var loss float64
		for i, r := range res {
			if r.err != nil {
				t.Fatalf("%s: part %v: %v", name, cuts[i], r.err)
			}
			if r.next != wantNext {
				t.Errorf("%s: part %v left the random stream elsewhere than the whole batch", name, cuts[i])
			}
			loss += r.loss
		}
		if math.Abs(loss-wantLoss) > 1e-6*max(1, math.Abs(wantLoss)) {
			t.Errorf("%s: the parts' losses sum to %g, the whole batch's is %g", name, loss, wantLoss)
		}
		var scale float64
		for _, g := range wantG {
			for _, x := range g {
				scale = max(scale, math.Abs(float64(x)))
			}
		}
		if scale == 0 {
			t.Fatalf("%s: the whole batch's gradient is 0: nothing is compared", name)
		}
		for it, g := range wantG {
			for k, want := range g {
				var got float64
				for _, r := range res {
					got += float64(r.grads[it][k])
				}
				if math.Abs(got-float64(want)) > 1e-5*scale {
					t.Fatalf("%s: update %d, gradient %d: the parts sum to %g, the whole batch has %g (largest |g| %g)", name, it, k, got, want, scale)
				}
			}
		}
		t.Logf("%s: %d gradients of 2 updates match across %d parts", name, len(wantG[0]), len(cuts))
	}
}
