package pg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
	m := randomModel(cpu.New(), cfg, rand.New(rand.NewPCG(42, 1)), 1.5)
	m.AllocGrads()
	return m
}

// randomModel is a model of cfg on b with random weights from rng: norms near 1, matrices of
// standard deviation scale/√(input width).
func randomModel(b core.Backend, cfg model.Config, rng *rand.Rand, scale float64) *model.Model {
	p := model.NewParams(b, cfg)
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		for i := range v {
			if n.Tensor.Rank() == 1 {
				v[i] = float32(1 + 0.3*rng.NormFloat64())
			} else {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(n.Tensor.Dim(1))) * scale)
			}
		}
		b.Upload(n.Tensor, v)
	}
	return model.New(b, cfg, p)
}

// toyReward is a fixed arbitrary reward of the 27 completions.
func toyReward(y []int32) float64 {
	idx := int(y[0])*9 + int(y[1])*3 + int(y[2])
	return math.Sin(float64(idx)*1.7) + 0.3*float64(idx%4)
}

// stateKey packs a completion state (tokens or the mask) into an index.
func stateKey(x []int32) int { return int(x[0])*16 + int(x[1])*4 + int(x[2]) }

// toyPolicy is the sampler that the rollouts and the enumeration share.
type toyPolicy struct {
	rm   core.Remasking
	conf core.Confidence
	temp float64
	topK int
}

func (p toyPolicy) String() string {
	s := fmt.Sprintf("%v", p.rm)
	if p.rm == core.LowConfidence {
		s += fmt.Sprintf(" (%v)", p.conf)
	}
	s += fmt.Sprintf(" T=%g", p.temp)
	if p.topK > 0 {
		s += fmt.Sprintf(" top_k=%d", p.topK)
	}
	return s
}

var (
	randomPolicy = toyPolicy{rm: core.RandomOrder, temp: 1}
	lowConfPol   = toyPolicy{rm: core.LowConfidence, temp: 1}
)

// toyDist is the sampler's view of one completion state: p[j][v], the distribution drawn from
// (softmax(ℓ/T) over the top-k of v ∈ {0, 1, 2}); conf[j][v], what low_confidence ranks a drawn
// v by; ent[j], p's entropy, which entropy remasking ranks by.
type toyDist struct {
	p, conf [toyC][3]float64
	ent     [toyC]float64
}

// toyForward runs the model on every completion state (row stateKey(x)), keeping the
// activations for a backward, and returns the logits and their values.
func toyForward(m *model.Model) (*core.Tensor, []float32) {
	b := m.B
	states := allStates()
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
	return logits, lv
}

// dist is the sampler's view of state key's position j from the logits.
func (pol toyPolicy) dist(lv []float32, key int) toyDist {
	var d toyDist
	for j := 0; j < toyC; j++ {
		row := lv[(key*4+1+j)*toyV : (key*4+2+j)*toyV]
		var z [3]float64
		keep := [3]bool{true, true, true}
		for v := range z {
			z[v] = float64(row[v]) / pol.temp
		}
		if pol.topK > 0 {
			for v := range z {
				above := 0
				for u := range z {
					if z[u] > z[v] {
						above++
					}
				}
				keep[v] = above < pol.topK
			}
		}
		mx, all := math.Inf(-1), math.Inf(-1)
		for v := range z {
			if keep[v] {
				mx = math.Max(mx, z[v])
			}
		}
		for _, l := range row {
			all = math.Max(all, float64(l))
		}
		var sum, sumAll float64
		for v := range z {
			if keep[v] {
				sum += math.Exp(z[v] - mx)
			}
		}
		for _, l := range row {
			sumAll += math.Exp(float64(l) - all)
		}
		for v := range z {
			if keep[v] {
				d.p[j][v] = math.Exp(z[v]-mx) / sum
				d.ent[j] -= d.p[j][v] * math.Log(d.p[j][v])
			}
			d.conf[j][v] = math.Log(d.p[j][v])
			if pol.conf == core.Untempered {
				d.conf[j][v] = float64(row[v]) - all - math.Log(sumAll) // the mask entry included
			}
		}
	}
	return d
}

// outcome is one way a step can go: its probability, the position and token revealed, and the
// token drawn at every position whose draw decides the step (−1 elsewhere).
type outcome struct {
	prob  float64
	j, v  int
	drawn [toyC]int
}

// outcomes enumerates a step at a state with masked positions `masked`. random: a uniform
// position, its token drawn. entropy: the position of least entropy (ties to the lower), its
// token drawn. low_confidence: a token is drawn at every masked position and the most
// confident is revealed (ties to the lower position), the others discarded.
func (pol toyPolicy) outcomes(masked []int, d toyDist) []outcome {
	none := [toyC]int{-1, -1, -1}
	var out []outcome
	switch pol.rm {
	case core.RandomOrder:
		for _, j := range masked {
			for v := 0; v < 3; v++ {
				o := outcome{prob: d.p[j][v] / float64(len(masked)), j: j, v: v, drawn: none}
				o.drawn[j] = v
				out = append(out, o)
			}
		}
	case core.LowEntropy:
		best := masked[0]
		for _, j := range masked {
			if d.ent[j] < d.ent[best] {
				best = j
			}
		}
		for v := 0; v < 3; v++ {
			o := outcome{prob: d.p[best][v], j: best, v: v, drawn: none}
			o.drawn[best] = v
			out = append(out, o)
		}
	case core.LowConfidence:
		draws := 1
		for range masked {
			draws *= 3
		}
		for code := 0; code < draws; code++ {
			o := outcome{prob: 1, j: -1, drawn: none}
			bestConf := math.Inf(-1)
			c := code
			for _, j := range masked {
				v := c % 3
				c /= 3
				o.prob *= d.p[j][v]
				o.drawn[j] = v
				if conf := d.conf[j][v]; conf > bestConf {
					o.j, o.v, bestConf = j, v, conf
				}
			}
			if o.prob > 0 {
				out = append(out, o)
			}
		}
	}
	return out
}

// enumerate returns J(θ) = E[R] under pol by full enumeration and, when grad is set, the
// exact ∂J/∂logits at every state: reach(x)·Σ_outcomes P(o)·V(after o)·Σ_drawn ∂log p_j(v)/∂ℓ,
// with ∂log p(v)/∂ℓ_u = (1[u = v] − p(u))/T on the support. Every draw that decides the step
// is scored, discarded ones included; which position wins is locally constant in θ. This
// uses no likelihood formula of the estimator under test: only the sampler's definition.
func enumerate(m *model.Model, pol toyPolicy, grad bool) (float64, *core.Tensor, []float32) {
	logits, lv := toyForward(m)
	dists := map[int]toyDist{}
	for key := range 64 {
		dists[key] = pol.dist(lv, key)
	}
	values := map[int]float64{}
	var value func(x []int32) float64
	value = func(x []int32) float64 {
		key := stateKey(x)
		if v, ok := values[key]; ok {
			return v
		}
		masked := maskedPositions(x)
		var out float64
		if len(masked) == 0 {
			out = toyReward(x)
		} else {
			for _, o := range pol.outcomes(masked, dists[key]) {
				out += o.prob * value(revealed(x, o.j, o.v))
			}
		}
		values[key] = out
		return out
	}
	root := []int32{toyMask, toyMask, toyMask}
	j := value(root)
	if !grad {
		return j, nil, nil
	}
	// Reach probabilities, states taken by decreasing number of masked positions.
	reach := map[int]float64{stateKey(root): 1}
	states := allStates()
	slices.SortStableFunc(states, func(a, b []int32) int { return len(maskedPositions(b)) - len(maskedPositions(a)) })
	dl := make([]float32, len(lv))
	for _, x := range states {
		key := stateKey(x)
		masked := maskedPositions(x)
		if reach[key] == 0 || len(masked) == 0 {
			continue
		}
		d := dists[key]
		var g [toyC][3]float64
		for _, o := range pol.outcomes(masked, d) {
			next := revealed(x, o.j, o.v)
			reach[stateKey(next)] += reach[key] * o.prob
			w := reach[key] * o.prob * value(next)
			for pos, v := range o.drawn {
				if v < 0 {
					continue
				}
				for u := 0; u < 3; u++ {
					if d.p[pos][u] == 0 {
						continue // outside the support
					}
					ind := 0.0
					if u == v {
						ind = 1
					}
					g[pos][u] += w * (ind - d.p[pos][u]) / pol.temp
				}
			}
		}
		for pos := range g {
			for u := range g[pos] {
				dl[(key*4+1+pos)*toyV+u] = float32(g[pos][u])
			}
		}
	}
	return j, logits, dl
}

// exactGradient is ∇J under pol by enumeration, back-propagated through the model.
func exactGradient(t *testing.T, m *model.Model, pol toyPolicy) []float64 {
	_, logits, dl := enumerate(m, pol, true)
	for i := range dl {
		dl[i] = -dl[i] // the model's backward takes the gradient of the loss −J
	}
	dLogits := m.B.Alloc(core.F32, logits.Shape()...)
	m.B.Upload(dLogits, dl)
	m.Grads.Zero(m.B, m.Cfg)
	m.Backward(dLogits)
	return flatGrad(m, -1)
}

// jOf is J(θ) under pol, for finite differences.
func jOf(pol toyPolicy) func(*model.Model) float64 {
	return func(m *model.Model) float64 {
		j, _, _ := enumerate(m, pol, false)
		return j
	}
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

func rolloutBatch(t *testing.T, m *model.Model, n int, seed uint32, pol toyPolicy) *sampler.Trajectories {
	prompts := make([]sampler.Prompt, n)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	tr, err := sampler.Generate(m, prompts, sampler.Config{GenLength: toyC, BlockLength: toyC, Steps: toyC,
		Temperature: float32(pol.temp), TopK: pol.topK, Remasking: pol.rm, Confidence: pol.conf, Seed: seed}, nil)
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

func agrpoEstimate(t *testing.T, m *model.Model, cfg AGRPOConfig, pol toyPolicy, group, n int) estimateFn {
	cfg.Temperature = float32(pol.temp)
	est, err := NewAGRPO(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(batch int) []float64 {
		tr := rolloutBatch(t, m, n, uint32(1000+batch), pol)
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
	base := AGRPOConfig{MCSamples: 1, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Iterations: 1, Scaling: SumScaling, Temperature: 1}
	const batches, rows = 200, 100
	m2 := base
	m2.MCSamples = 2
	ent := base
	ent.Importance = EntropyWeighted
	ent.MCSamples = 2
	untempered := toyPolicy{rm: core.LowConfidence, conf: core.Untempered, temp: 0.8}
	topK := toyPolicy{rm: core.LowConfidence, temp: 1.3, topK: 2}
	entropyPol := toyPolicy{rm: core.LowEntropy, temp: 1}
	exact := map[toyPolicy][]float64{}
	for _, c := range []struct {
		name  string
		pol   toyPolicy
		cfg   AGRPOConfig
		group int
	}{
		{"m=1, constant baseline", randomPolicy, base, 1},
		{"m=2, constant baseline", randomPolicy, m2, 1},
		{"m=1, group-mean advantage ×G/(G−1)", randomPolicy, base, 4},
		{"m=2, entropy importance sampling", randomPolicy, ent, 1},
		// The exact likelihood, on the remasking rules whose selection depends on θ.
		{"exact, m=1", lowConfPol, base, 1},
		{"exact, m=2, group-mean advantage", lowConfPol, m2, 4},
		{"exact, m=2", untempered, m2, 1},
		{"exact, m=1", topK, base, 1},
		{"exact (= tokens), m=1", entropyPol, base, 1},
	} {
		if exact[c.pol] == nil {
			exact[c.pol] = exactGradient(t, m, c.pol)
		}
		mean, se, quarter := collect(agrpoEstimate(t, m, c.cfg, c.pol, c.group, rows), batches)
		maxZ, rel := zStats(mean, se, exact[c.pol])
		relQuarter := relL2(quarter, exact[c.pol])
		name := fmt.Sprintf("%v, %s", c.pol, c.name)
		t.Logf("%-58s N=%d: max|z| %.2f over %d coordinates, rel. error %.3f (at N/4: %.3f)", name, batches*rows, maxZ, len(mean), rel, relQuarter)
		if maxZ > 4.5 {
			t.Errorf("%s: max |z| = %.2f > 4.5: the estimate is off the exact gradient", name, maxZ)
		}
		if !(rel < 0.75*relQuarter) {
			t.Errorf("%s: relative error %.3f at N does not shrink from %.3f at N/4", name, rel, relQuarter)
		}
	}
}

// TestEnumeratedGradient checks the enumeration's gradient, the reference of the tests above,
// against finite differences of the enumerated J along random directions: the two share only
// the sampler's definition, so a slip in the derivative of the draws would show.
func TestEnumeratedGradient(t *testing.T) {
	m := toyModel(t)
	for _, pol := range []toyPolicy{randomPolicy, lowConfPol, {rm: core.LowConfidence, conf: core.Untempered, temp: 0.8},
		{rm: core.LowConfidence, temp: 1.3, topK: 2}, {rm: core.LowEntropy, temp: 1}} {
		g := exactGradient(t, m, pol)
		for k, d := range randomDirections(4, len(g)) {
			var want float64
			for e := range g {
				want += g[e] * d[e]
			}
			fd := directional(t, m, d, jOf(pol))
			t.Logf("%v, direction %d: ∇J·d %.6f, finite differences %.6f", pol, k, want, fd)
			if math.Abs(fd-want) > 2e-3*(1+math.Abs(want)) {
				t.Errorf("%v, direction %d: ∇J·d = %.6f by enumeration, %.6f by finite differences", pol, k, want, fd)
			}
		}
	}
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

// allStates lists every completion state, in stateKey order.
func allStates() [][]int32 {
	var out [][]int32
	for code := 0; code < 64; code++ {
		out = append(out, []int32{int32(code / 16), int32(code / 4 % 4), int32(code % 4)})
	}
	return out
}

// revealed is x with position j set to token v.
func revealed(x []int32, j, v int) []int32 {
	next := append([]int32(nil), x...)
	next[j] = int32(v)
	return next
}

// directional is the derivative of J along d by Richardson-extrapolated central differences,
// over a parameter step of norm step. Under low_confidence and entropy remasking J jumps
// where two confidences (entropies) cross, so the step must be small enough that no crossing
// falls inside it; the result is checked at a second, halved step, which a jump would change.
func directional(t *testing.T, m *model.Model, d []float64, j func(*model.Model) float64) float64 {
	params := m.P.Tensors(m.Cfg)
	orig := make([][]float32, len(params))
	for i, p := range params {
		orig[i] = make([]float32, p.Len())
		m.B.Download(p, orig[i])
	}
	var norm float64
	for _, x := range d {
		norm += x * x
	}
	norm = math.Sqrt(norm)
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
	richardson := func(step float64) float64 {
		eps := step / norm
		d1 := (at(eps) - at(-eps)) / (2 * eps)
		d2 := (at(eps/2) - at(-eps/2)) / eps
		return (4*d2 - d1) / 3
	}
	const step = 4e-3
	big, small := richardson(step), richardson(step/2)
	at(0)
	if math.Abs(big-small) > 1e-2*(1+math.Abs(big)) {
		t.Fatalf("finite differences along a direction change with the step (%.5f at %g, %.5f at %g): J jumps within it", big, step, small, step/2)
	}
	return big
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
		want := directional(t, m, d, j)
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
	exact := exactGradient(t, m, randomPolicy)
	const batches, rows = 200, 100

	d1, err := NewDiffuGRPO(DiffuGRPOConfig{PMaskPrompt: 0, Eps: 0.2, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	diffu := func(batch int) []float64 {
		tr := rolloutBatch(t, m, rows, uint32(5000+batch), randomPolicy)
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

	base := AGRPOConfig{MCSamples: 1, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Iterations: 1, Scaling: SumScaling, Temperature: 1}
	dirs := append([][]float64{exact}, randomDirections(4, len(exact))...)
	t.Log("positive control, random remasking:")
	if z := projectedZ(t, m, agrpoEstimate(t, m, base, randomPolicy, 1, rows), batches, dirs, jOf(randomPolicy)); z > 4.5 {
		t.Errorf("AGRPO under random remasking: max |z| %.1f along fixed directions", z)
	}
	lowExact := exactGradient(t, m, lowConfPol)
	dirs[0] = lowExact
	t.Log("low-confidence remasking, exact likelihood:")
	if z := projectedZ(t, m, agrpoEstimate(t, m, base, lowConfPol, 1, rows), batches, dirs, jOf(lowConfPol)); z > 4.5 {
		t.Errorf("AGRPO's exact likelihood under low_confidence: max |z| %.1f along fixed directions", z)
	}
	tokens := base
	tokens.Likelihood = TokensLikelihood
	t.Log("low-confidence remasking, token-only score:")
	if z := projectedZ(t, m, agrpoEstimate(t, m, tokens, lowConfPol, 1, rows), batches, dirs, jOf(lowConfPol)); z < 6 {
		t.Errorf("AGRPO's token-only score under low_confidence was not detected as biased (max |z| %.1f)", z)
	}
	mean, se, _ = collect(agrpoEstimate(t, m, tokens, lowConfPol, 1, rows), batches)
	maxZ, rel = zStats(mean, se, lowExact)
	t.Logf("low-confidence remasking, token-only score against the exact gradient: max|z| %.1f, rel. error %.3f", maxZ, rel)
	if maxZ < 6 {
		t.Errorf("AGRPO's token-only score under low_confidence was not detected as biased coordinate by coordinate (max |z| %.1f)", maxZ)
	}
}
