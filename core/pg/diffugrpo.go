package pg

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmrl/agrpo/core/model"
)

// DiffuGRPOConfig are d1's settings (its names in parentheses): its section [rl.diffu_grpo] of
// a run config and the Shared ones.
type DiffuGRPOConfig struct {
	PMaskPrompt float64 `toml:"p_mask_prompt"` // probability of masking each prompt token (0.15)
	Eps         float64 `toml:"epsilon"`       // PPO clip ε, both sides

	Beta       float64 `toml:"-"` // k3 KL weight to the reference model (beta)
	Iterations int     `toml:"-"` // μ (num_iterations)
}

func init() { Register("diffu-grpo", DiffuGRPOConfig{PMaskPrompt: 0.15, Eps: 0.5}) }

// With is c with the shared settings it uses filled in.
func (c DiffuGRPOConfig) With(s Shared) Settings {
	c.Beta, c.Iterations = s.Beta, s.Iterations
	return c
}

// Validate reports every setting out of range by its key.
func (c DiffuGRPOConfig) Validate() error {
	var errs []error
	if c.PMaskPrompt < 0 || c.PMaskPrompt > 1 {
		errs = append(errs, fmt.Errorf("p_mask_prompt = %g, must be in [0, 1]", c.PMaskPrompt))
	}
	if c.Iterations <= 0 {
		errs = append(errs, fmt.Errorf("num_iterations = %d, must be positive", c.Iterations))
	}
	if err := (ppo{c.Eps, c.Eps, c.Beta}).validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// New is NewDiffuGRPO(c).
func (c DiffuGRPOConfig) New() (Estimator, error) { return NewDiffuGRPO(c) }

// UpdateRows is one row per rollout.
func (c DiffuGRPOConfig) UpdateRows(rollouts int) int { return rollouts }

// DiffuGRPO is d1's one-step estimator: the log-probability of a completion token is read from
// a single forward pass with the whole completion masked and each prompt token masked with
// probability p — a mean-field stand-in for the sequence likelihood, biased for ∇J (the
// sampler never reveals tokens that way). A fresh prompt mask per inner update; the same mask
// for the old, reference and current policies within an update.
type DiffuGRPO struct {
	Cfg              DiffuGRPOConfig
	sc               scorer
	ref              scorer
	old              [][]float32 // per iteration: the pre-update log-probabilities at every position
	inputs           [][]int32   // per iteration: the noised input tokens
	keyMask, targets []int32
	scored           []int32 // the positions the loss covers, the only ones scored
	count            int     // completion tokens the loss covers, over the whole batch
}

// NewDiffuGRPO checks the config.
func NewDiffuGRPO(c DiffuGRPOConfig) (*DiffuGRPO, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("diffu-grpo: %w", err)
	}
	return &DiffuGRPO{Cfg: c}, nil
}

// Name is "diffu-grpo".
func (d *DiffuGRPO) Name() string { return "diffu-grpo" }

// Iterations is μ.
func (d *DiffuGRPO) Iterations() int { return d.Cfg.Iterations }

// noisedInput is a batch's input with the completion masked and each real prompt token masked
// with probability PMaskPrompt. A shard skips the draws of the whole batch's rows before and
// after its own (before and after of them), so that it draws what one process would.
func (d *DiffuGRPO) noisedInput(r *Rollouts, rng *rand.Rand, before, after int) []int32 {
	t := r.Traj
	s := t.P + t.C
	tokens := make([]int32, t.B*s)
	for range before {
		rng.Float64()
	}
	defer func() {
		for range after {
			rng.Float64()
		}
	}()
	for row := 0; row < t.B; row++ {
		for i := 0; i < t.P; i++ {
			tok := t.Prompt[row*t.P+i]
			if t.PromptMask[row*t.P+i] != 0 && rng.Float64() < d.Cfg.PMaskPrompt {
				tok = t.MaskID
			}
			tokens[row*s+i] = tok
		}
		for j := 0; j < t.C; j++ {
			tokens[row*s+t.P+j] = t.MaskID
		}
	}
	return tokens
}

// Prepare draws one prompt mask per inner update and records the pre-update log-probabilities
// under each. A shard learns from the other parts how many prompt draws come before and after
// its rows and how many tokens the whole batch's loss covers.
func (d *DiffuGRPO) Prepare(m *model.Model, r *Rollouts, rng *rand.Rand) error {
	t := r.Traj
	s := t.P + t.C
	offset, rows := r.span()
	// Per row of the whole batch, its real prompt tokens (one draw each); then the loss's tokens.
	counts := make([]float64, rows+1)
	d.keyMask, d.targets, d.scored = make([]int32, t.B*s), make([]int32, t.B*s), d.scored[:0]
	for row := 0; row < t.B; row++ {
		copy(d.keyMask[row*s:], t.PromptMask[row*t.P:(row+1)*t.P])
		for j := 0; j < t.C; j++ {
			d.keyMask[row*s+t.P+j] = 1
			d.targets[row*s+t.P+j] = t.Tokens[row*t.C+j]
		}
		for _, k := range t.PromptMask[row*t.P : (row+1)*t.P] {
			if k != 0 {
				counts[offset+row]++
			}
		}
		n := trainedLen(t.Completion(row), t.EOSID)
		for j := 0; j < n; j++ {
			d.scored = append(d.scored, int32(row*s+t.P+j))
		}
		counts[rows] += float64(n)
	}
	if err := r.sum(counts); err != nil {
		return fmt.Errorf("diffu-grpo: %w", err)
	}
	var before, after int
	for i, c := range counts[:rows] {
		switch {
		case i < offset:
			before += int(c)
		case i >= offset+t.B:
			after += int(c)
		}
	}
	d.count = int(counts[rows])
	d.old, d.inputs = d.old[:0], d.inputs[:0]
	for it := 0; it < d.Cfg.Iterations; it++ {
		tokens := d.noisedInput(r, rng, before, after)
		lp, _ := d.sc.logProbs(m, t.B, s, tokens, d.keyMask, d.targets, nil, 1, false, d.scored)
		d.old = append(d.old, append([]float32(nil), lp...))
		d.inputs = append(d.inputs, tokens)
	}
	return nil
}

// trainedLen is how many leading completion tokens of a row the loss covers: up to and
// including the first EOS.
func trainedLen(tokens []int32, eos int32) int {
	for i, tok := range tokens {
		if tok == eos {
			return i + 1
		}
	}
	return len(tokens)
}

// Accumulate adds the gradient of the token-mean clipped surrogate for inner update it.
func (d *DiffuGRPO) Accumulate(m, ref *model.Model, r *Rollouts, it int, _ *rand.Rand) (Stats, error) {
	if it >= len(d.old) {
		return Stats{}, fmt.Errorf("diffu-grpo: update %d before Prepare", it)
	}
	if ref == nil && d.Cfg.Beta != 0 {
		return Stats{}, fmt.Errorf("diffu-grpo: beta = %g needs a reference model", d.Cfg.Beta)
	}
	t := r.Traj
	s := t.P + t.C
	lp, _ := d.sc.logProbs(m, t.B, s, d.inputs[it], d.keyMask, d.targets, nil, 1, false, d.scored)
	var lr []float32
	if ref != nil && d.Cfg.Beta != 0 {
		lr, _ = d.ref.logProbs(ref, t.B, s, d.inputs[it], d.keyMask, d.targets, nil, 1, false, d.scored)
	}
	count := d.count
	c := ppo{d.Cfg.Eps, d.Cfg.Eps, d.Cfg.Beta}
	dLogp := make([]float32, t.B*s)
	var tl tally
	for row := 0; row < t.B; row++ {
		for j := 0; j < trainedLen(t.Completion(row), t.EOSID); j++ {
			pos := row*s + t.P + j
			lref := 0.0
			if lr != nil {
				lref = float64(lr[pos])
			}
			loss, grad, kl, low, high := c.token(float64(lp[pos]), float64(d.old[it][pos]), lref, r.Adv[row], lr != nil)
			dLogp[pos] = float32(grad / float64(count))
			tl.add(loss/float64(count), kl, low, high, math.Abs(math.Exp(float64(lp[pos]-d.old[it][pos]))-1))
		}
	}
	d.sc.backward(m, dLogp, nil, 1)
	return tl.done(), nil
}
