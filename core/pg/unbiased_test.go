package pg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
)

// The exact unbiasedness test (docs: algorithms §5). A transformer small enough to enumerate
// every trajectory — completion length 3, tokens {0, 1, 2} (plus the mask), 3 steps revealing
// one token each — gives the exact policy gradient ∇J = Σ_τ P(τ) R(τ) Σ_s ∇log π(a_s|x_s) by
// enumeration; the mean of many independent AGRPO estimates must agree with it coordinate by
// coordinate within 4.5 standard errors, with a relative error that shrinks as 1/√N. Two
// estimators that are biased must be caught: diffu-GRPO's one-step likelihood, and AGRPO's
// token-only score under low-confidence remasking.

const (
	toyV    = 4 // tokens 0, 1, 2 and the mask
	toyMask = 3
	toyC    = 3
)

var toyPrompt = []int32{1}

func toyModel(t *testing.T) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: toyV, DModel: 8, Layers: 1, Heads: 2, MLPHidden: 8, MaxSeqLen: 4,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: toyMask, EOSID: 0, PadID: 0}
	b := cpu.New()
	p := model.NewParams(b, cfg)
	rng := rand.New(rand.NewPCG(42, 1))
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		for i := range v {
			if n.Tensor.Rank() == 1 {
				v[i] = float32(1 + 0.3*rng.NormFloat64())
			} else {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(n.Tensor.Dim(1))) * 1.5)
			}
		}
		b.Upload(n.Tensor, v)
	}
	m := model.New(b, cfg, p)
	m.AllocGrads()
	return m
}

// toyReward is a fixed arbitrary reward of the 27 completions.
func toyReward(y []int32) float64 {
	idx := int(y[0])*9 + int(y[1])*3 + int(y[2])
	return math.Sin(float64(idx)*1.7) + 0.3*float64(idx%4)
}

// stateKey packs a completion state (tokens or the mask) into an index.
func stateKey(x []int32) int { return int(x[0])*16 + int(x[1])*4 + int(x[2]) }

// toyProbs evaluates p(v | x)_j for every completion state x: probs[key][j][v] over v ∈ {0,1,2}
// (the sampler's distribution at T = 1: softmax without the mask entry).
func toyProbs(m *model.Model, states [][]int32) map[int][toyC][3]float64 {
	b := m.B
	n := len(states)
	tok, km := make([]int32, n*4), make([]int32, n*4)
	for i, x := range states {
		tok[i*4] = toyPrompt[0]
		copy(tok[i*4+1:], x)
		for k := 0; k < 4; k++ {
			km[i*4+k] = 1
		}
	}
	tt, kt := b.Alloc(core.I32, n, 4), b.Alloc(core.I32, n, 4)
	b.UploadInt(tt, tok)
	b.UploadInt(kt, km)
	logits := m.Forward(tt, kt)
	lv := make([]float32, logits.Len())
	b.Download(logits, lv)
	out := map[int][toyC][3]float64{}
	for i, x := range states {
		var p [toyC][3]float64
		for j := 0; j < toyC; j++ {
			row := lv[(i*4+1+j)*toyV:]
			mx := math.Inf(-1)
			for v := 0; v < 3; v++ {
				mx = math.Max(mx, float64(row[v]))
			}
			var z float64
			for v := 0; v < 3; v++ {
				z += math.Exp(float64(row[v]) - mx)
			}
			for v := 0; v < 3; v++ {
				p[j][v] = math.Exp(float64(row[v])-mx) / z
			}
		}
		out[stateKey(x)] = p
	}
	return out
}

// maskedPositions lists the positions of x still masked.
func maskedPositions(x []int32) []int {
	var masked []int
	for j, v := range x {
		if v == toyMask {
			masked = append(masked, j)
		}
	}
	return masked
}

// allStates lists every completion state reachable by revealing positions one at a time.
func allStates() [][]int32 {
	var out [][]int32
	for code := 0; code < 64; code++ {
		x := []int32{int32(code / 16), int32(code / 4 % 4), int32(code % 4)}
		out = append(out, x)
	}
	return out
}

// exactGradient enumerates the random-remasking policy: at a state with masked set M it reveals
// a uniformly chosen j ∈ M with a token drawn from p_j. It returns ∇J computed as one backward
// pass of Σ_{x,j,v} c(x,j,v)·log p(v|x)_j, where c sums P(τ)R(τ) over trajectories taking
// action (j, v) at x — the score-function identity, exact up to float rounding.
func exactGradient(t *testing.T, m *model.Model) []float64 {
	probs := toyProbs(m, allStates())
	coef := map[int]*[toyC][3]float64{}
	var walk func(x []int32, prob float64) float64
	// walk returns E[R | x] and adds, for every action at x and below, prob·P(a)·E[R | after a].
	walk = func(x []int32, prob float64) float64 {
		masked := maskedPositions(x)
		if len(masked) == 0 {
			return toyReward(x)
		}
		p := probs[stateKey(x)]
		var value float64
		for _, j := range masked {
			for v := 0; v < 3; v++ {
				pa := p[j][v] / float64(len(masked))
				next := append([]int32(nil), x...)
				next[j] = int32(v)
				r := walk(next, prob*pa)
				c := coef[stateKey(x)]
				if c == nil {
					c = &[toyC][3]float64{}
					coef[stateKey(x)] = c
				}
				c[j][v] += prob * pa * r
				value += pa * r
			}
		}
		return value
	}
	walk([]int32{toyMask, toyMask, toyMask}, 1)

	// One row per (state, token v): target v everywhere, weight c(x, j, v) at position j.
	var tokens, keyMask, targets []int32
	var bias, weights []float32
	inf := float32(math.Inf(-1))
	for key, c := range coef {
		x := []int32{int32(key / 16), int32(key / 4 % 4), int32(key % 4)}
		for v := 0; v < 3; v++ {
			tokens = append(tokens, toyPrompt[0], x[0], x[1], x[2])
			keyMask = append(keyMask, 1, 1, 1, 1)
			targets = append(targets, 0, int32(v), int32(v), int32(v))
			weights = append(weights, 0)
			for j := 0; j < toyC; j++ {
				weights = append(weights, float32(-c[j][v])) // the loss is −J
			}
			for k := 0; k < 4; k++ {
				bias = append(bias, 0, 0, 0, inf)
			}
		}
	}
	var sc scorer
	m.Grads.Zero(m.B, m.Cfg)
	rows := len(tokens) / 4
	sc.logProbs(m, rows, 4, tokens, keyMask, targets, bias, 1)
	sc.backward(m, weights, true, 1)
	return flatGrad(m, -1)
}

// flatGrad downloads every gradient, times sign.
func flatGrad(m *model.Model, sign float64) []float64 {
	var out []float64
	for _, g := range m.Grads.Tensors(m.Cfg) {
		v := make([]float32, g.Len())
		m.B.Download(g, v)
		for _, x := range v {
			out = append(out, sign*float64(x))
		}
	}
	return out
}

// estimate runs one batch of n rollouts through an estimator and returns its ∇J estimate
// (the negated accumulated loss gradient, times scale).
type estimateFn func(batch int) []float64

func rolloutBatch(t *testing.T, m *model.Model, n int, seed uint32, rm core.Remasking) *sampler.Trajectories {
	prompts := make([]sampler.Prompt, n)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	tr, err := sampler.Generate(m, prompts, sampler.Config{GenLength: toyC, BlockLength: toyC, Steps: toyC,
		Temperature: 1, Remasking: rm, Seed: seed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// advantages: R − b with a constant baseline, or R − group mean (groups of g) scaled by
// g/(g−1), the correction that makes the group baseline unbiased.
func advantages(tr *sampler.Trajectories, group int) []float64 {
	adv := make([]float64, tr.B)
	for r := range adv {
		adv[r] = toyReward(tr.Completion(r))
	}
	if group <= 1 {
		for r := range adv {
			adv[r] -= 0.4
		}
		return adv
	}
	for lo := 0; lo < tr.B; lo += group {
		var mean float64
		for _, a := range adv[lo : lo+group] {
			mean += a / float64(group)
		}
		for r := lo; r < lo+group; r++ {
			adv[r] = (adv[r] - mean) * float64(group) / float64(group-1)
		}
	}
	return adv
}

func agrpoEstimate(t *testing.T, m *model.Model, cfg AGRPOConfig, rm core.Remasking, group, n int) estimateFn {
	est, err := NewAGRPO(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(batch int) []float64 {
		tr := rolloutBatch(t, m, n, uint32(1000+batch), rm)
		r := &Rollouts{Traj: tr, Adv: advantages(tr, group)}
		m.Grads.Zero(m.B, m.Cfg)
		if _, err := est.Accumulate(m, nil, r, 0, rand.New(rand.NewPCG(uint64(batch), 9))); err != nil {
			t.Fatal(err)
		}
		return flatGrad(m, -1)
	}
}

// collect draws batches estimates and returns their mean and the standard error of the mean
// per coordinate, plus the mean over the first quarter of the batches.
func collect(fn estimateFn, batches int) (mean, se, quarter []float64) {
	var sum, sq []float64
	for i := 0; i < batches; i++ {
		g := fn(i)
		if sum == nil {
			sum, sq = make([]float64, len(g)), make([]float64, len(g))
		}
		for k, x := range g {
			sum[k] += x
			sq[k] += x * x
		}
		if i+1 == batches/4 {
			quarter = make([]float64, len(g))
			for k := range g {
				quarter[k] = sum[k] / float64(i+1)
			}
		}
	}
	n := float64(batches)
	mean, se = make([]float64, len(sum)), make([]float64, len(sum))
	for k := range sum {
		mean[k] = sum[k] / n
		se[k] = math.Sqrt(math.Max(sq[k]/n-mean[k]*mean[k], 0) / (n - 1))
	}
	return mean, se, quarter
}

// zStats returns max |z| over coordinates and the relative L2 error against the exact value.
func zStats(mean, se, exact []float64) (maxZ, rel float64) {
	var num, den float64
	for k := range mean {
		d := mean[k] - exact[k]
		num += d * d
		den += exact[k] * exact[k]
		if se[k] > 1e-12 {
			maxZ = math.Max(maxZ, math.Abs(d)/se[k])
		} else if math.Abs(d) > 1e-6 {
			maxZ = math.Inf(1) // never touched by the estimator, yet the true gradient is not 0
		}
	}
	return maxZ, math.Sqrt(num / den)
}

func relL2(a, b []float64) float64 {
	var num, den float64
	for k := range a {
		num += (a[k] - b[k]) * (a[k] - b[k])
		den += b[k] * b[k]
	}
	return math.Sqrt(num / den)
}

func TestAGRPOUnbiased(t *testing.T) {
	if testing.Short() {
		t.Skip("the unbiasedness test draws 20k trajectories per estimator")
	}
	m := toyModel(t)
	exact := exactGradient(t, m)
	base := AGRPOConfig{MCSamples: 1, Importance: "uniform", LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Iterations: 1, Scaling: "sum", Temperature: 1}
	const batches, rows = 200, 100
	m2 := base
	m2.MCSamples = 2
	ent := base
	ent.Importance = "entropy"
	for _, c := range []struct {
		name  string
		fn    estimateFn
		group int
	}{
		{"m=1, constant baseline", agrpoEstimate(t, m, base, core.RandomOrder, 1, rows), 1},
		{"m=2, constant baseline", agrpoEstimate(t, m, m2, core.RandomOrder, 1, rows), 1},
		{"m=1, group-mean advantage ×G/(G−1)", agrpoEstimate(t, m, base, core.RandomOrder, 4, rows), 4},
		{"m=2, entropy importance sampling", agrpoEstimate(t, m, func() AGRPOConfig { c := ent; c.MCSamples = 2; return c }(), core.RandomOrder, 1, rows), 1},
	} {
		mean, se, quarter := collect(c.fn, batches)
		maxZ, rel := zStats(mean, se, exact)
		relQuarter := relL2(quarter, exact)
		t.Logf("%-40s N=%d: max|z| %.2f over %d coordinates, rel. error %.3f (at N/4: %.3f)", c.name, batches*rows, maxZ, len(exact), rel, relQuarter)
		if maxZ > 4.5 {
			t.Errorf("%s: max |z| = %.2f > 4.5: the estimate is off the exact gradient", c.name, maxZ)
		}
		if !(rel < 0.75*relQuarter) {
			t.Errorf("%s: relative error %.3f at N does not shrink from %.3f at N/4", c.name, rel, relQuarter)
		}
	}
}

// expectedReward is J(θ) by enumeration: the reward of a complete state, else the expectation
// that step forms over a state's transitions (p holds the model's distributions at x; value
// recurses on the next state).
func expectedReward(m *model.Model, step func(x []int32, masked []int, p [toyC][3]float64, value func([]int32) float64) float64) float64 {
	probs := toyProbs(m, allStates())
	var value func(x []int32) float64
	value = func(x []int32) float64 {
		masked := maskedPositions(x)
		if len(masked) == 0 {
			return toyReward(x)
		}
		return step(x, masked, probs[stateKey(x)], value)
	}
	return value([]int32{toyMask, toyMask, toyMask})
}

// revealed is x with position j set to token v.
func revealed(x []int32, j, v int) []int32 {
	next := append([]int32(nil), x...)
	next[j] = int32(v)
	return next
}

// jRandom is J(θ) under random remasking: a uniformly chosen masked position is revealed with a
// token drawn from its distribution.
func jRandom(m *model.Model) float64 {
	return expectedReward(m, func(x []int32, masked []int, p [toyC][3]float64, value func([]int32) float64) float64 {
		var out float64
		for _, j := range masked {
			for v := 0; v < 3; v++ {
				out += p[j][v] / float64(len(masked)) * value(revealed(x, j, v))
			}
		}
		return out
	})
}

// jLowConfidence is J(θ) under low-confidence remasking: at each step a token is drawn at every
// masked position, and the one whose drawn token is most probable is revealed (ties to the
// lower position), the others discarded.
func jLowConfidence(m *model.Model) float64 {
	return expectedReward(m, func(x []int32, masked []int, p [toyC][3]float64, value func([]int32) float64) float64 {
		var out float64
		draws := 1
		for range masked {
			draws *= 3
		}
		for code := 0; code < draws; code++ {
			prob, best, bestConf, bestTok := 1.0, -1, math.Inf(-1), 0
			c := code
			for _, j := range masked {
				v := c % 3
				c /= 3
				prob *= p[j][v]
				if conf := math.Log(p[j][v]); conf > bestConf {
					best, bestConf, bestTok = j, conf, v
				}
			}
			out += prob * value(revealed(x, best, bestTok))
		}
		return out
	})
}

// directional is the derivative of J along d by Richardson-extrapolated central differences.
func directional(m *model.Model, d []float64, j func(*model.Model) float64) float64 {
	params := m.P.Tensors(m.Cfg)
	orig := make([][]float32, len(params))
	for i, p := range params {
		orig[i] = make([]float32, p.Len())
		m.B.Download(p, orig[i])
	}
	at := func(eps float64) float64 {
		k := 0
		for i, p := range params {
			v := make([]float32, len(orig[i]))
			for e := range v {
				v[e] = orig[i][e] + float32(eps*d[k])
				k++
			}
			m.B.Upload(p, v)
		}
		return j(m)
	}
	const eps = 2e-3
	d1 := (at(eps) - at(-eps)) / (2 * eps)
	d2 := (at(eps/2) - at(-eps/2)) / eps
	at(0)
	return (4*d2 - d1) / 3
}

// projectedZ compares an estimator's mean projection on each direction with the directional
// derivative of J, returning the largest |z|.
func projectedZ(t *testing.T, m *model.Model, fn estimateFn, batches int, dirs [][]float64, j func(*model.Model) float64) float64 {
	proj := make([][]float64, len(dirs))
	for i := 0; i < batches; i++ {
		g := fn(i)
		for k, d := range dirs {
			var s float64
			for e := range g {
				s += g[e] * d[e]
			}
			proj[k] = append(proj[k], s)
		}
	}
	worst := 0.0
	for k, d := range dirs {
		var mean, sq float64
		for _, x := range proj[k] {
			mean += x
			sq += x * x
		}
		n := float64(len(proj[k]))
		mean /= n
		se := math.Sqrt((sq/n - mean*mean) / (n - 1))
		want := directional(m, d, j)
		z := (mean - want) / se
		t.Logf("  direction %d: estimator %.4f ± %.4f, dJ/dd %.4f, z %.1f", k, mean, se, want, z)
		worst = math.Max(worst, math.Abs(z))
	}
	return worst
}

func randomDirections(n, dim int) [][]float64 {
	rng := rand.New(rand.NewPCG(77, 7))
	dirs := make([][]float64, n)
	for i := range dirs {
		dirs[i] = make([]float64, dim)
		for e := range dirs[i] {
			dirs[i][e] = rng.NormFloat64()
		}
	}
	return dirs
}

// TestBiasedEstimatorsDetected: the negative controls. diffu-GRPO's one-step mean-field score
// (scaled to a per-sequence sum so its scale is comparable) misses whole coordinates of ∇J;
// AGRPO's token-only score under low-confidence remasking ignores the θ-dependent selection of
// the revealed position, and its mean misses the true directional derivatives of J under that
// policy. A positive control checks the directional method itself on random remasking.
func TestBiasedEstimatorsDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 20k trajectories per estimator")
	}
	m := toyModel(t)
	exact := exactGradient(t, m)
	const batches, rows = 200, 100

	d1, err := NewDiffuGRPO(DiffuGRPOConfig{PMaskPrompt: 0, Eps: 0.2, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	diffu := func(batch int) []float64 {
		tr := rolloutBatch(t, m, rows, uint32(5000+batch), core.RandomOrder)
		r := &Rollouts{Traj: tr, Adv: advantages(tr, 1)}
		rng := rand.New(rand.NewPCG(uint64(batch), 3))
		if err := d1.Prepare(m, r, rng); err != nil {
			t.Fatal(err)
		}
		m.Grads.Zero(m.B, m.Cfg)
		if _, err := d1.Accumulate(m, nil, r, 0, rng); err != nil {
			t.Fatal(err)
		}
		count := 0
		for row := 0; row < tr.B; row++ {
			count += trainedLen(tr.Completion(row), tr.EOSID)
		}
		return flatGrad(m, -float64(count)/float64(rows))
	}
	mean, se, _ := collect(diffu, batches)
	maxZ, rel := zStats(mean, se, exact)
	t.Logf("diffu-GRPO: max|z| %.1f, rel. error %.3f", maxZ, rel)
	if maxZ < 10 || rel < 0.3 {
		t.Errorf("diffu-GRPO was not detected as biased (max|z| %.1f, rel. error %.3f)", maxZ, rel)
	}

	base := AGRPOConfig{MCSamples: 1, Importance: "uniform", LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Iterations: 1, Scaling: "sum", Temperature: 1}
	dirs := append([][]float64{exact}, randomDirections(4, len(exact))...)
	t.Log("positive control, random remasking:")
	if z := projectedZ(t, m, agrpoEstimate(t, m, base, core.RandomOrder, 1, rows), batches, dirs, jRandom); z > 4.5 {
		t.Errorf("AGRPO under random remasking: max |z| %.1f along fixed directions", z)
	}
	t.Log("low-confidence remasking, token-only score:")
	if z := projectedZ(t, m, agrpoEstimate(t, m, base, core.LowConfidence, 1, rows), batches, dirs, jLowConfidence); z < 6 {
		t.Errorf("AGRPO's token-only score under low_confidence was not detected as biased (max |z| %.1f)", z)
	}
}
