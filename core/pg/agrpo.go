package pg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
)

// AGRPOConfig are AGRPO's settings (the official code's names in parentheses): its section
// [rl.agrpo] of a run config and the Shared ones.
type AGRPOConfig struct {
	MCSamples      int        `toml:"mc_samples"`          // m, steps sampled per trajectory
	Importance     Importance `toml:"importance_sampling"` // the steps' distribution
	LowDiscrepancy bool       `toml:"low_discrepancy"`     // stratify the N·m uniforms
	EpsLow         float64    `toml:"epsilon_low"`         // PPO clip below
	EpsHigh        float64    `toml:"epsilon_high"`        // PPO clip above
	Scaling        Scaling    `toml:"scaling"`             // the weight of a trajectory's step-sum
	// OfficialStepCount counts a trajectory's steps as the official code does, up to its last
	// step that revealed a non-EOS token. By default every sampled step counts (EOS tokens are
	// sampled actions too), which the unbiasedness of SumScaling needs.
	OfficialStepCount bool       `toml:"official_step_count"`
	Likelihood        Likelihood `toml:"likelihood"` // the step likelihood scored

	Beta        float64 `toml:"-"` // k3 KL weight to the reference model (beta)
	Iterations  int     `toml:"-"` // μ (num_iterations)
	Temperature float32 `toml:"-"` // the rollouts' sampling temperature (> 0)
	MaxRows     int     `toml:"-"` // rows per forward/backward chunk (0 = all at once)
}

func init() {
	Register("agrpo", AGRPOConfig{MCSamples: 4, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
		Scaling: MeanScaling, Likelihood: ExactLikelihood})
}

// With is c with the shared settings filled in.
func (c AGRPOConfig) With(s Shared) Settings {
	c.Beta, c.Iterations, c.Temperature, c.MaxRows = s.Beta, s.Iterations, s.Temperature, s.MaxRows
	return c
}

// Validate reports every setting out of range by its key.
func (c AGRPOConfig) Validate() error {
	var errs []error
	if c.MCSamples <= 0 {
		errs = append(errs, fmt.Errorf("mc_samples = %d, must be positive", c.MCSamples))
	}
	if c.Iterations <= 0 {
		errs = append(errs, fmt.Errorf("num_iterations = %d, must be positive", c.Iterations))
	}
	if !(c.Temperature > 0) {
		errs = append(errs, fmt.Errorf("temperature %g: rollouts must be sampled at T > 0 for a policy gradient", c.Temperature))
	}
	for _, err := range []error{core.CheckChoice(c.Importance), core.CheckChoice(c.Scaling), core.CheckChoice(c.Likelihood), (ppo{c.EpsLow, c.EpsHigh, c.Beta}).validate()} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// New is NewAGRPO(c).
func (c AGRPOConfig) New() (Estimator, error) { return NewAGRPO(c) }

// UpdateRows is one row per sampled step, MaxRows at a time.
func (c AGRPOConfig) UpdateRows(rollouts int) int {
	if rows := rollouts * c.MCSamples; c.MaxRows <= 0 || rows < c.MaxRows {
		return rows
	}
	return c.MaxRows
}

// selectionTol is the band within which a confidence counts as tied with the lowest kept one
// (core.SelectionParams.Tol): the training pass recomputes confidences in another batch than
// the rollout, and float32 log-probabilities of a few units move by ~1e-6 between two passes.
const selectionTol = 1e-4

// AGRPO is the estimator of arXiv 2510.04019 as the official code implements it.
type AGRPO struct {
	Cfg AGRPOConfig
	sc  scorer
	ref scorer
	// oldSel is π_old's log selection factor of every step, [row·StepsRun + step], set by
	// Prepare when μ > 1 (nil when the update is on-policy or has no selection factor).
	oldSel []float64
}

// NewAGRPO checks the config.
func NewAGRPO(c AGRPOConfig) (*AGRPO, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("agrpo: %w", err)
	}
	return &AGRPO{Cfg: c}, nil
}

// Name is "agrpo".
func (a *AGRPO) Name() string { return "agrpo" }

// Iterations is μ.
func (a *AGRPO) Iterations() int { return a.Cfg.Iterations }

// selects reports whether the exact likelihood of t's steps has a selection factor: the
// rollouts ranked positions by the sampled tokens' confidence, and the exact likelihood was asked for.
func (a *AGRPO) selects(t *sampler.Trajectories) bool {
	return a.Cfg.Likelihood == ExactLikelihood && t.Config.Remasking == core.LowConfidence
}

// Prepare records π_old's selection factor of every step when μ > 1; otherwise π_old is the
// sampler's own record of the tokens, and at the one on-policy update the factor's ratio is 1.
//
// The sampler has the logits when it draws, but recording F there would put a second copy of
// the selection rule into UnmaskStep on every backend. Computing it here, once, before the
// first update, runs the one SelectionLogProbs op on the very inputs the updates score (the
// same batch layout and tie band), so the ratio compares like with like; it costs one forward
// pass per step without a backward, and only when μ > 1. Every step is scored because each
// inner update draws its own steps.
func (a *AGRPO) Prepare(m *model.Model, r *Rollouts, _ *rand.Rand) error {
	a.oldSel = nil
	t := r.Traj
	if a.Cfg.Iterations == 1 || !a.selects(t) {
		return nil
	}
	var all []draw
	for row := 0; row < t.B; row++ {
		for k := 0; k < a.steps(r, row); k++ {
			all = append(all, draw{row: row, step: k})
		}
	}
	a.oldSel = make([]float64, t.B*t.StepsRun)
	chunk := a.Cfg.MaxRows
	if chunk <= 0 {
		chunk = len(all)
	}
	for lo := 0; lo < len(all); lo += chunk {
		draws := all[lo:min(lo+chunk, len(all))]
		in := a.inputs(t, draws)
		_, logF, err := a.stepLogProbs(&a.sc, m, t, draws, in)
		if err != nil {
			return err
		}
		for i, d := range draws {
			a.forLeftMasked(t, d, func(j int) { a.oldSel[d.row*t.StepsRun+d.step] += float64(logF[i*in.s+t.P+j]) })
		}
	}
	return nil
}

// steps is the number of steps K_b of row r that the estimator samples from.
func (a *AGRPO) steps(r *Rollouts, row int) int {
	if a.Cfg.OfficialStepCount {
		return r.Traj.LastSampledStep(row) + 1
	}
	return r.Traj.RowSteps[row]
}

// draw is one sampled step of one trajectory and its importance weight.
type draw struct {
	row, step int
	weight    float64 // w·(1/(m·N)), times K_b under SumScaling
}

// Draws picks the m steps of every trajectory: k = ⌊u·K_b⌋ for uniform sampling, or the
// inverse CDF of q_b(k) ∝ 1e−8 + Σ_{tokens revealed at k} H_old for entropy sampling, with
// weight (1/K_b)/q_b(k); u is stratified over all N·m draws when LowDiscrepancy is set. N is
// the whole batch's: a shard draws every row's u and keeps its own.
func (a *AGRPO) Draws(r *Rollouts, rng *rand.Rand) []draw {
	t := r.Traj
	m := a.Cfg.MCSamples
	offset, rows := r.span()
	total := rows * m
	u := make([]float64, total)
	for i := range u {
		u[i] = rng.Float64()
	}
	if a.Cfg.LowDiscrepancy {
		perm := rng.Perm(total)
		for i := range u {
			u[i] = (float64(perm[i]) + u[i]) / float64(total)
		}
	}
	var draws []draw
	q := make([]float64, 0, t.StepsRun)
	for row := 0; row < t.B; row++ {
		k := a.steps(r, row)
		if k <= 0 {
			continue
		}
		if a.Cfg.Importance == EntropyWeighted {
			q = q[:0]
			for s := 0; s < k; s++ {
				q = append(q, 1e-8)
			}
			for j := 0; j < t.C; j++ {
				if s := int(t.RevealStep[row*t.C+j]); s < k {
					q[s] += float64(t.Entropy[row*t.C+j])
				}
			}
			var z float64
			for _, x := range q {
				z += x
			}
			for s := range q {
				q[s] /= z
			}
		}
		for l := 0; l < m; l++ {
			ul := u[(offset+row)*m+l]
			d := draw{row: row, weight: 1 / float64(m*rows)}
			if a.Cfg.Importance == EntropyWeighted {
				cum, s := 0.0, 0
				for s = 0; s < k-1; s++ {
					cum += q[s]
					if ul < cum {
						break
					}
				}
				d.step = s
				d.weight *= (1 / float64(k)) / q[s]
			} else {
				d.step = min(int(ul*float64(k)), k-1)
			}
			if a.Cfg.Scaling == SumScaling {
				d.weight *= float64(k)
			}
			draws = append(draws, d)
		}
	}
	return draws
}

// Accumulate draws the MC steps, rebuilds each state, and accumulates the clipped surrogate's
// gradient on the tokens revealed at each drawn step.
func (a *AGRPO) Accumulate(m, ref *model.Model, r *Rollouts, it int, rng *rand.Rand) (Stats, error) {
	if ref == nil && a.Cfg.Beta != 0 {
		return Stats{}, fmt.Errorf("agrpo: beta = %g needs a reference model", a.Cfg.Beta)
	}
	draws := a.Draws(r, rng)
	chunk := a.Cfg.MaxRows
	if chunk <= 0 {
		chunk = len(draws)
	}
	var tl tally
	for lo := 0; lo < len(draws); lo += chunk {
		if err := a.chunk(m, ref, r, draws[lo:min(lo+chunk, len(draws))], &tl); err != nil {
			return Stats{}, err
		}
	}
	return tl.done(), nil
}

// stepInputs are the training pass's rows for a chunk of draws: each draw's state before its
// step, with the tokens of the completion as targets; the support recorded at sampling
// restricts the positions the step revealed and, with a selection factor, those it left masked.
// The support is sparse (core.EncodeSupport): every token but the mask id where the rollout had
// no top-k/top-p cut, the kept ids where it had one, nothing (every token) elsewhere. Those
// positions are the only ones scored (scored, flat indices into n·s).
type stepInputs struct {
	n, s                     int
	tokens, keyMask, targets []int32
	support                  []int32
	selection                bool
	scored                   []int32
}

func (a *AGRPO) inputs(t *sampler.Trajectories, draws []draw) stepInputs {
	s, n := t.P+t.C, len(draws)
	in := stepInputs{n: n, s: s, tokens: make([]int32, n*s), keyMask: make([]int32, n*s), targets: make([]int32, n*s),
		selection: a.selects(t)}
	rows := make([][]int32, n*s)
	allButMask := core.AllBut(t.MaskID) // the support without a cut; shared, only read
	for i, d := range draws {
		copy(in.tokens[i*s:], t.Prompt[d.row*t.P:(d.row+1)*t.P])
		copy(in.keyMask[i*s:], t.PromptMask[d.row*t.P:(d.row+1)*t.P])
		copy(in.tokens[i*s+t.P:], t.StateBefore(d.row, d.step))
		for j := 0; j < t.C; j++ {
			in.keyMask[i*s+t.P+j] = 1
			in.targets[i*s+t.P+j] = t.Tokens[d.row*t.C+j]
			if int(t.RevealStep[d.row*t.C+j]) == d.step {
				in.scored = append(in.scored, int32(i*s+t.P+j))
				rows[i*s+t.P+j] = allButMask
				if sup := t.DrawSupport(d.row, d.step, j); sup != nil {
					rows[i*s+t.P+j] = sup
				}
			}
		}
		if in.selection {
			a.forLeftMasked(t, d, func(j int) {
				in.scored = append(in.scored, int32(i*s+t.P+j))
				rows[i*s+t.P+j] = allButMask
				if sup := t.DrawSupport(d.row, d.step, j); sup != nil {
					rows[i*s+t.P+j] = sup
				}
			})
		}
	}
	in.support = core.EncodeSupport(rows)
	return in
}

// forLeftMasked calls f with every position of d's block that d's step left masked.
func (a *AGRPO) forLeftMasked(t *sampler.Trajectories, d draw, f func(j int)) {
	lo, hi := t.StepBlock(d.step)
	for j := lo; j < hi; j++ {
		if int(t.RevealStep[d.row*t.C+j]) > d.step {
			f(j)
		}
	}
}

// stepLogProbs runs model m on a chunk's inputs and returns the log-probability of every
// target under the sampling distribution and, with a selection factor, log F at every position
// left masked (0 elsewhere). κ and the tie rule come from this pass's own confidences of the
// revealed tokens, so that F is consistent with them. A non-finite value is an error.
func (a *AGRPO) stepLogProbs(sc *scorer, m *model.Model, t *sampler.Trajectories, draws []draw, in stepInputs) (lp, logF []float32, err error) {
	invT := 1 / t.Config.Temperature
	untempered := in.selection && t.Config.Confidence == core.Untempered
	lp, conf := sc.logProbs(m, in.n, in.s, in.tokens, in.keyMask, in.targets, in.support, invT, untempered, in.scored)
	if !in.selection {
		return lp, nil, nil
	}
	if !untempered {
		conf = lp
	}
	kappa, rule := make([]float32, in.n*in.s), make([]int32, in.n*in.s)
	for i, d := range draws {
		base := i*in.s + t.P
		kappa0, last := math.Inf(1), -1
		for j := 0; j < t.C; j++ {
			if int(t.RevealStep[d.row*t.C+j]) != d.step {
				continue
			}
			if c := float64(conf[base+j]); c < kappa0 {
				kappa0 = c
			}
		}
		// The last kept position in the sampler's order: the highest one tied at κ.
		for j := 0; j < t.C; j++ {
			if int(t.RevealStep[d.row*t.C+j]) == d.step && float64(conf[base+j]) <= kappa0+selectionTol {
				last = j
			}
		}
		a.forLeftMasked(t, d, func(j int) {
			kappa[base+j], rule[base+j] = float32(kappa0), 1
			if j > last {
				rule[base+j] = 2 // a tie at κ goes to the lower position, the kept one
			}
		})
	}
	logF = sc.selection(m, kappa, rule, core.SelectionParams{InvTemp: invT, Confidence: t.Config.Confidence, Tol: selectionTol})
	for i, d := range draws {
		for j := 0; j < t.C; j++ {
			pos := i*in.s + t.P + j
			f, kept := float64(logF[pos]), int(t.RevealStep[d.row*t.C+j]) == d.step
			if rule[pos] != 0 && (math.IsInf(f, 0) || math.IsNaN(f)) || kept && (math.IsInf(float64(lp[pos]), 0) || math.IsNaN(float64(lp[pos]))) {
				return nil, nil, fmt.Errorf("agrpo: the exact likelihood of row %d, step %d is not finite at position %d "+
					"(log p %g, log F %g, κ %g): the training pass ranks no token of a position left masked below the "+
					"lowest kept confidence, so it disagrees with the rollout by more than %g", d.row, d.step, j, lp[pos], f, kappa[pos], selectionTol)
			}
		}
	}
	return lp, logF, nil
}

// merge folds repeated draws (the same step of the same trajectory, which m draws per
// trajectory hit often: 4 of 12 steps repeat one in 43 % of trajectories) into their first,
// counting them: the training pass scores each state once, its gradient times the count.
func merge(draws []draw) (once []draw, times []int) {
	first := make(map[draw]int, len(draws))
	for _, d := range draws {
		if i, ok := first[d]; ok {
			times[i]++
			continue
		}
		first[d] = len(once)
		once, times = append(once, d), append(times, 1)
	}
	return once, times
}

// chunk scores a chunk of draws and accumulates the clipped surrogate's gradient: per token,
// or per step when the step likelihood has a selection factor.
func (a *AGRPO) chunk(m, ref *model.Model, r *Rollouts, all []draw, tl *tally) error {
	t := r.Traj
	draws, times := merge(all)
	in := a.inputs(t, draws)
	s := in.s
	lp, logF, err := a.stepLogProbs(&a.sc, m, t, draws, in)
	if err != nil {
		return err
	}
	var lr, logFRef []float32
	if ref != nil && a.Cfg.Beta != 0 {
		if lr, logFRef, err = a.stepLogProbs(&a.ref, ref, t, draws, in); err != nil {
			return fmt.Errorf("reference model: %w", err)
		}
	}
	c := ppo{a.Cfg.EpsLow, a.Cfg.EpsHigh, a.Cfg.Beta}
	dLogp := make([]float32, in.n*s)
	var dLogF []float32
	if in.selection {
		dLogF = make([]float32, in.n*s)
	}
	for i, d := range draws {
		adv := r.Adv[d.row]
		base := i*s + t.P
		if in.selection {
			// One ratio for the whole step: log π = Σ_kept log p + Σ_left-masked log F.
			var lpS, loS, lrS, sel, selRef float64
			for j := 0; j < t.C; j++ {
				if tj := d.row*t.C + j; int(t.RevealStep[tj]) == d.step {
					lpS += float64(lp[base+j])
					loS += float64(t.LogP[tj])
					if lr != nil {
						lrS += float64(lr[base+j])
					}
				}
			}
			a.forLeftMasked(t, d, func(j int) {
				sel += float64(logF[base+j])
				if lr != nil {
					selRef += float64(logFRef[base+j])
				}
			})
			old := sel // on-policy: θ is θ_old, so the factor's ratio is 1
			if a.oldSel != nil {
				old = a.oldSel[d.row*t.StepsRun+d.step]
			}
			loss, grad, kl, low, high := c.token(lpS+sel, loS+old, lrS+selRef, adv, lr != nil)
			g := float32(float64(times[i]) * d.weight * grad)
			for j := 0; j < t.C; j++ {
				if int(t.RevealStep[d.row*t.C+j]) == d.step {
					dLogp[base+j] = g
				}
			}
			a.forLeftMasked(t, d, func(j int) { dLogF[base+j] = g })
			for range times[i] {
				tl.add(d.weight*loss, kl, low, high, math.Abs(math.Exp(lpS+sel-loS-old)-1))
			}
			continue
		}
		for j := 0; j < t.C; j++ {
			tj := d.row*t.C + j
			if int(t.RevealStep[tj]) != d.step {
				continue
			}
			pos := base + j
			lref := 0.0
			if lr != nil {
				lref = float64(lr[pos])
			}
			loss, grad, kl, low, high := c.token(float64(lp[pos]), float64(t.LogP[tj]), lref, adv, lr != nil)
			dLogp[pos] = float32(float64(times[i]) * d.weight * grad)
			for range times[i] {
				tl.add(d.weight*loss, kl, low, high, math.Abs(math.Exp(float64(lp[pos])-float64(t.LogP[tj]))-1))
			}
		}
	}
	a.sc.backward(m, dLogp, dLogF, 1/t.Config.Temperature)
	return nil
}
