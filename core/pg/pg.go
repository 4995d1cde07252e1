// Package pg holds the policy-gradient estimators for masked-diffusion models: AGRPO, which
// treats every unmasking step as an action with an exact likelihood and Monte Carlo samples a
// few steps per trajectory, and the diffu-GRPO (d1) baseline, which scores a whole completion
// from one fully-masked forward pass. Both sit behind one Estimator interface and register
// their names, settings and constructors (Register), so that a trainer builds, configures and
// logs any registered estimator without naming it, and adding one changes no trainer.
package pg

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
)

// Rollouts are sampled trajectories with one advantage per row.
type Rollouts struct {
	Traj *sampler.Trajectories
	Adv  []float64
	// Shard, if set, makes these rows one part of a larger batch (a data-parallel rank's share);
	// nil means they are the whole batch.
	Shard *Shard
}

// Shard places rollouts in a batch split over the ranks of a data-parallel job: they are rows
// Offset … Offset+B−1 of Total. Estimators draw their random numbers for the whole batch, in
// the order one process would, and keep those of their rows, and they normalise by the whole
// batch, so that the parts' gradients sum to the gradient of the batch taken at once.
type Shard struct {
	Offset, Total int
	// Sum replaces x by its elementwise sum over all parts (a collective: every part calls it,
	// in the same order).
	Sum func(x []float64) error
}

// span is where r's rows lie in the batch: their first row and the batch's size.
func (r *Rollouts) span() (offset, total int) {
	if r.Shard == nil {
		return 0, r.Traj.B
	}
	return r.Shard.Offset, r.Shard.Total
}

// sum adds x over the parts of the batch (nothing to add for a whole batch).
func (r *Rollouts) sum(x []float64) error {
	if r.Shard == nil {
		return nil
	}
	if err := r.Shard.Sum(x); err != nil {
		return fmt.Errorf("summing over the batch's parts: %w", err)
	}
	return nil
}

// Stats report one inner update: the loss whose gradient was accumulated and the estimator's
// own statistics as named metrics (the names a run logs them by).
type Stats struct {
	Loss   float64 // the surrogate loss whose gradient was accumulated
	Tokens int     // tokens (or steps) in the loss: the weight of Means when parts of a batch combine
	// Means are per-token means over the loss's tokens, in an order fixed by the estimator.
	Means []Metric
}

// Metric is one named statistic.
type Metric struct {
	Name  string
	Value float64
}

// Estimator turns rollouts into parameter gradients.
type Estimator interface {
	// Name is the name it is registered by.
	Name() string
	// Iterations is μ, the number of optimizer updates per batch of rollouts.
	Iterations() int
	// Prepare runs once per batch, before any update, to record what the updates need from the
	// pre-update policy (old log-probabilities, masks).
	Prepare(m *model.Model, r *Rollouts, rng *rand.Rand) error
	// Accumulate adds the gradient of inner update it's loss into m.Grads. ref, the frozen
	// reference policy of the KL term, may be nil when the estimator's β is 0.
	Accumulate(m, ref *model.Model, r *Rollouts, it int, rng *rand.Rand) (Stats, error)
}

// ppo is the per-token clipped surrogate with an optional k3 KL penalty:
//
//	ℓ = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) + β·ρ·(e^(lr−lp) − (lr−lp) − 1)
//
// ρ = e^(lp−lo); the KL term carries the ρ importance correction of the official AGRPO code
// (DeepSeek-V3.2's), which makes its gradient β·ρ·(lp − lr). It returns ℓ, dℓ/dlp and which
// way the ratio was clipped; kl is the k3 value itself.
type ppo struct {
	EpsLow, EpsHigh, Beta float64
}

func (c ppo) token(lp, lo, lr, adv float64, withRef bool) (loss, grad, kl float64, low, high bool) {
	rho := math.Exp(lp - lo)
	clipped := math.Min(math.Max(rho, 1-c.EpsLow), 1+c.EpsHigh)
	if rho*adv <= clipped*adv {
		loss, grad = -rho*adv, -rho*adv
	} else {
		loss = -clipped * adv // the clipped branch is constant in θ
	}
	low = rho < 1-c.EpsLow && adv < 0
	high = rho > 1+c.EpsHigh && adv > 0
	if withRef && c.Beta != 0 {
		d := lr - lp
		kl = math.Exp(d) - d - 1
		loss += c.Beta * rho * kl
		grad += c.Beta * rho * (lp - lr)
	}
	return loss, grad, kl, low, high
}

func (c ppo) validate() error {
	if c.EpsLow < 0 || c.EpsHigh < 0 || c.Beta < 0 {
		return fmt.Errorf("epsilon_low, epsilon_high and beta must be ≥ 0")
	}
	return nil
}

// tally accumulates the clipped surrogate's statistics over tokens.
type tally struct {
	loss                       float64
	tokens                     int
	kl, low, high, region, dev float64
}

func (t *tally) add(loss, kl float64, low, high bool, rhoDev float64) {
	t.loss += loss
	t.tokens++
	t.kl += kl
	t.dev += rhoDev
	if low {
		t.low++
	}
	if high {
		t.high++
	}
	if low || high {
		t.region++
	}
}

// done is the update's Stats under TRL's names: the mean k3 estimate of KL(π_θ ‖ π_ref) (0
// without a reference), the fractions of tokens clipped below (ρ < 1 − ε_low with A < 0), above
// (ρ > 1 + ε_high with A > 0) and either way, and the mean |ρ − 1| (0 up to float error at the
// first on-policy update).
func (t *tally) done() Stats {
	sums := []Metric{{"kl", t.kl}, {"clip_ratio/low_mean", t.low}, {"clip_ratio/high_mean", t.high},
		{"clip_ratio/region_mean", t.region}, {"ratio_dev", t.dev}}
	means := make([]Metric, len(sums))
	for i, m := range sums {
		means[i].Name = m.Name
		if t.tokens > 0 {
			means[i].Value = m.Value / float64(t.tokens)
		}
	}
	return Stats{Loss: t.loss, Tokens: t.tokens, Means: means}
}
