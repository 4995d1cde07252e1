package pg

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmrl/agrpo/core/model"
)

// AGRPOConfig are AGRPO's settings (the official code's names in parentheses).
type AGRPOConfig struct {
	MCSamples      int     // m, steps sampled per trajectory (mc_samples)
	Importance     string  // "uniform" or "entropy": draw steps in proportion to their entropy, reweighted (importance_sampling)
	LowDiscrepancy bool    // stratify the N·m uniforms (low_discrepancy)
	EpsLow         float64 // PPO clip below (epsilon_low)
	EpsHigh        float64 // PPO clip above (epsilon_high)
	Beta           float64 // k3 KL weight to the reference model (beta)
	Iterations     int     // μ (num_iterations)
	// Scaling "mean" weights a trajectory's step-sum by 1/K_b, as the official code does (like
	// GRPO's 1/|o|); "sum" drops that factor, making the estimate unbiased for ∇J itself.
	Scaling string
	// OfficialStepCount counts a trajectory's steps as the official code does, up to its last
	// step that revealed a non-EOS token. By default every sampled step counts (EOS tokens are
	// sampled actions too), which the unbiasedness of "sum" needs.
	OfficialStepCount bool
	Temperature       float32 // the rollouts' sampling temperature (> 0)
	MaxRows           int     // rows per forward/backward chunk (0 = all at once)
}

// AGRPO is the estimator of arXiv 2510.04019 as the official code implements it.
type AGRPO struct {
	Cfg AGRPOConfig
	sc  scorer
	ref scorer
}

// NewAGRPO checks the config.
func NewAGRPO(c AGRPOConfig) (*AGRPO, error) {
	switch {
	case c.MCSamples <= 0:
		return nil, fmt.Errorf("agrpo: mc_samples = %d, must be positive", c.MCSamples)
	case c.Importance != "uniform" && c.Importance != "entropy":
		return nil, fmt.Errorf("agrpo: importance_sampling %q, want uniform or entropy", c.Importance)
	case c.Scaling != "mean" && c.Scaling != "sum":
		return nil, fmt.Errorf("agrpo: scaling %q, want mean or sum", c.Scaling)
	case c.Iterations <= 0:
		return nil, fmt.Errorf("agrpo: num_iterations = %d, must be positive", c.Iterations)
	case !(c.Temperature > 0):
		return nil, fmt.Errorf("agrpo: temperature %g: rollouts must be sampled at T > 0 for a policy gradient", c.Temperature)
	}
	if err := (ppo{c.EpsLow, c.EpsHigh, c.Beta}).validate(); err != nil {
		return nil, fmt.Errorf("agrpo: %w", err)
	}
	return &AGRPO{Cfg: c}, nil
}

// Name is "agrpo".
func (a *AGRPO) Name() string { return "agrpo" }

// Iterations is μ.
func (a *AGRPO) Iterations() int { return a.Cfg.Iterations }

// Prepare has nothing to do: π_old is the sampler's own record.
func (a *AGRPO) Prepare(*model.Model, *Rollouts, *rand.Rand) error { return nil }

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
	weight    float64 // w·(1/(m·N)), times K_b under "sum"
}

// Draws picks the m steps of every trajectory: k = ⌊u·K_b⌋ for uniform sampling, or the
// inverse CDF of q_b(k) ∝ 1e−8 + Σ_{tokens revealed at k} H_old for entropy sampling, with
// weight (1/K_b)/q_b(k); u is stratified over all N·m draws when LowDiscrepancy is set.
func (a *AGRPO) Draws(r *Rollouts, rng *rand.Rand) []draw {
	t := r.Traj
	m := a.Cfg.MCSamples
	total := t.B * m
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
		if a.Cfg.Importance == "entropy" {
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
			ul := u[row*m+l]
			d := draw{row: row, weight: 1 / float64(m*t.B)}
			if a.Cfg.Importance == "entropy" {
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
			if a.Cfg.Scaling == "sum" {
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
		a.chunk(m, ref, r, draws[lo:min(lo+chunk, len(draws))], &tl)
	}
	return tl.done(), nil
}

func (a *AGRPO) chunk(m, ref *model.Model, r *Rollouts, draws []draw, tl *tally) {
	t := r.Traj
	s := t.P + t.C
	v := t.V
	n := len(draws)
	tokens, keyMask, targets := make([]int32, n*s), make([]int32, n*s), make([]int32, n*s)
	bias := make([]float32, n*s*v)
	for i, d := range draws {
		copy(tokens[i*s:], t.Prompt[d.row*t.P:(d.row+1)*t.P])
		copy(keyMask[i*s:], t.PromptMask[d.row*t.P:(d.row+1)*t.P])
		copy(tokens[i*s+t.P:], t.StateBefore(d.row, d.step))
		for j := 0; j < t.C; j++ {
			keyMask[i*s+t.P+j] = 1
			targets[i*s+t.P+j] = t.Tokens[d.row*t.C+j]
			if int(t.RevealStep[d.row*t.C+j]) == d.step {
				copy(bias[(i*s+t.P+j)*v:], t.Support[(d.row*t.C+j)*v:(d.row*t.C+j+1)*v])
			}
		}
	}
	invT := 1 / t.Config.Temperature
	lp := a.sc.logProbs(m, n, s, tokens, keyMask, targets, bias, invT)
	var lr []float32
	if ref != nil && a.Cfg.Beta != 0 {
		lr = a.ref.logProbs(ref, n, s, tokens, keyMask, targets, bias, invT)
	}
	c := ppo{a.Cfg.EpsLow, a.Cfg.EpsHigh, a.Cfg.Beta}
	dLogp := make([]float32, n*s)
	for i, d := range draws {
		adv := r.Adv[d.row]
		for j := 0; j < t.C; j++ {
			tj := d.row*t.C + j
			if int(t.RevealStep[tj]) != d.step {
				continue
			}
			pos := i*s + t.P + j
			lref := 0.0
			if lr != nil {
				lref = float64(lr[pos])
			}
			loss, grad, kl, low, high := c.token(float64(lp[pos]), float64(t.LogP[tj]), lref, adv, lr != nil)
			dLogp[pos] = float32(d.weight * grad)
			tl.add(d.weight*loss, kl, low, high, math.Abs(math.Exp(float64(lp[pos])-float64(t.LogP[tj]))-1))
		}
	}
	a.sc.backward(m, dLogp, true, invT)
}
