package pg

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/sampler"
)

// TestRatioIsOneOnPolicy: at the first update (μ = 1) the training pass recomputes exactly the
// log-probabilities the sampler recorded — same rebuilt state, temperature and top-k/top-p
// support — so ρ = 1 up to float error and nothing is clipped. Checked across blocks.
func TestRatioIsOneOnPolicy(t *testing.T) {
	m := toyModel(t)
	prompts := make([]sampler.Prompt, 16)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	for _, c := range []sampler.Config{
		{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.7, TopK: 2, Remasking: core.RandomOrder, Seed: 1},
		{GenLength: 3, BlockLength: 1, Steps: 3, Temperature: 1.3, TopP: 0.8, Remasking: core.RandomOrder, Seed: 2},
		{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.9, Remasking: core.LowConfidence, Seed: 3},
		{GenLength: 3, BlockLength: 3, Steps: 2, Temperature: 0.8, TopK: 2, Remasking: core.LowConfidence, Confidence: core.Untempered, Seed: 4},
	} {
		tr, err := sampler.Generate(m, prompts, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		adv := make([]float64, tr.B)
		for i := range adv {
			adv[i] = float64(i%3) - 1
		}
		// μ = 2 at its first update: π_old's selection factor comes from Prepare, in other chunks.
		for _, mu := range []int{1, 2} {
			est, err := NewAGRPO(AGRPOConfig{MCSamples: 3, Importance: EntropyWeighted, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
				Iterations: mu, Scaling: MeanScaling, Temperature: c.Temperature, MaxRows: 10 + mu})
			if err != nil {
				t.Fatal(err)
			}
			r := &Rollouts{Traj: tr, Adv: adv}
			if err := est.Prepare(m, r, nil); err != nil {
				t.Fatal(err)
			}
			m.Grads.Zero(m.B, m.Cfg)
			st, err := est.Accumulate(m, nil, r, 0, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if dev, clipped := metric(t, st, "ratio_dev"), metric(t, st, "clip_ratio/region_mean"); st.Tokens == 0 || dev > 1e-5 || clipped != 0 {
				t.Errorf("%+v, μ = %d: %d tokens, mean |ρ−1| = %.2g, clipped %.3f; want ρ = 1", c, mu, st.Tokens, dev, clipped)
			}
		}
	}
}

// TestNonFiniteLikelihoodIsAnError: when the training pass ranks no token of a position left
// masked below the lowest kept confidence (here forced by making every kept token the least
// likely one, which a rollout would not have kept), the estimator stops with an error rather
// than writing −Inf or NaN into the gradients.
func TestNonFiniteLikelihoodIsAnError(t *testing.T) {
	m := toyModel(t)
	prompts := make([]sampler.Prompt, 8)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	tr, err := sampler.Generate(m, prompts, sampler.Config{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.5,
		Remasking: core.LowConfidence, Seed: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, lv := toyForward(m)
	for r := 0; r < tr.B; r++ {
		for j := 0; j < tr.C; j++ {
			if tr.RevealStep[r*tr.C+j] != 0 {
				continue
			}
			row := lv[(stateKey([]int32{toyMask, toyMask, toyMask})*4+1+j)*toyV:]
			worst := 0
			for v := 1; v < 3; v++ {
				if row[v] < row[worst] {
					worst = v
				}
			}
			tr.Tokens[r*tr.C+j] = int32(worst)
		}
	}
	est, err := NewAGRPO(AGRPOConfig{MCSamples: 3, Importance: Uniform, EpsLow: 0.2, EpsHigh: 0.2, Iterations: 1,
		Scaling: SumScaling, Temperature: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	m.Grads.Zero(m.B, m.Cfg)
	_, err = est.Accumulate(m, nil, &Rollouts{Traj: tr, Adv: make([]float64, tr.B)}, 0, rand.New(rand.NewPCG(2, 2)))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("error %v, want one about a likelihood that is not finite", err)
	}
	for _, g := range flatGrad(m, 1) {
		if g != 0 {
			t.Fatal("gradients were written before the error")
		}
	}
}

// TestDrawWeights: entropy importance weights make Σ_s q(s)·w(s) = 1 for every row, so the
// weighted step average is an unbiased estimate of the plain mean over steps; uniform draws
// carry weight 1/(m·N), and "sum" scaling multiplies by K_b.
func TestDrawWeights(t *testing.T) {
	m := toyModel(t)
	prompts := []sampler.Prompt{{Tokens: toyPrompt}, {Tokens: toyPrompt}}
	tr, err := sampler.Generate(m, prompts, sampler.Config{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 1,
		Remasking: core.RandomOrder, Seed: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rollouts{Traj: tr, Adv: []float64{1, -1}}
	for _, scaling := range []Scaling{MeanScaling, SumScaling} {
		est, _ := NewAGRPO(AGRPOConfig{MCSamples: 4, Importance: EntropyWeighted, LowDiscrepancy: true, Iterations: 1, Scaling: scaling, Temperature: 1})
		// Average the weight of each step over many draws: E[w·1(step = s)] = (1/K)·scale.
		rng := rand.New(rand.NewPCG(3, 3))
		const rounds = 4000
		sum := make([]float64, 3)
		for i := 0; i < rounds; i++ {
			for _, d := range est.Draws(r, rng) {
				if d.row == 0 {
					sum[d.step] += d.weight
				}
			}
		}
		want := 1.0 / 3 / float64(4*2) * 4 // per step: (1/K)·(1/(m·N)) per draw, m draws per round
		if scaling == SumScaling {
			want *= 3
		}
		for s, v := range sum {
			if got := v / rounds; got < 0.93*want || got > 1.07*want {
				t.Errorf("%s: step %d carries mean weight %.4f, want %.4f", scaling, s, got, want)
			}
		}
	}
}

// metric is the statistic of that name in st.
func metric(t *testing.T, st Stats, name string) float64 {
	t.Helper()
	for _, m := range st.Means {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("no metric %q in %+v", name, st)
	return 0
}

// TestRepeatedDrawsScoredOnce: a chunk whose draws repeat steps (scored once, the gradient
// times the count) accumulates the gradient and the statistics of scoring every draw on its
// own, for the token-only and the exact (selection factor) likelihood.
func TestRepeatedDrawsScoredOnce(t *testing.T) {
	m := toyModel(t)
	prompts := make([]sampler.Prompt, 6)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	for _, order := range []core.Remasking{core.RandomOrder, core.LowConfidence} {
		tr, err := sampler.Generate(m, prompts, sampler.Config{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.8,
			Remasking: order, Seed: 5}, nil)
		if err != nil {
			t.Fatal(err)
		}
		adv := []float64{1, -0.5, 0.25, -1, 0.75, 0}
		est, err := NewAGRPO(AGRPOConfig{MCSamples: 2, Importance: Uniform, EpsLow: 0.2, EpsHigh: 0.2, Iterations: 1,
			Scaling: MeanScaling, Temperature: 0.8, Likelihood: ExactLikelihood})
		if err != nil {
			t.Fatal(err)
		}
		r := &Rollouts{Traj: tr, Adv: adv}
		d := func(row, step int) draw { return draw{row: row, step: step, weight: 1.0 / 12} }
		draws := []draw{d(0, 1), d(3, 0), d(0, 1), d(5, 2), d(0, 1), d(3, 0), d(2, 2)}
		var merged, separate tally
		m.Grads.Zero(m.B, m.Cfg)
		if err := est.chunk(m, nil, r, draws, &merged); err != nil {
			t.Fatal(err)
		}
		want := flatGrad(m, 1)
		m.Grads.Zero(m.B, m.Cfg)
		for _, dr := range draws {
			if err := est.chunk(m, nil, r, []draw{dr}, &separate); err != nil {
				t.Fatal(err)
			}
		}
		got := flatGrad(m, 1)
		if e := relL2(got, want); !(e < 1e-5) || relL2(want, make([]float64, len(want))) == 0 {
			t.Errorf("%v: gradient of the repeated draws scored once is %.3g (relative L2) off scoring each", order, e)
		}
		a, b := merged.done(), separate.done()
		if a.Tokens != b.Tokens || math.Abs(a.Loss-b.Loss) > 1e-12*math.Max(1, math.Abs(b.Loss)) {
			t.Errorf("%v: merged stats %+v, separate %+v", order, a, b)
		}
	}
}
