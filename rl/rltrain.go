package rl

import (
	"fmt"
	"math"
	"time"

	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/dist"
	"github.com/dllmrl/agrpo/rl/task"
)

// rlState is what an RL method keeps between steps: its estimator and, with a KL term, the
// frozen reference policy.
type rlState struct {
	est pg.Estimator
	ref *model.Model
}

// newRLState builds the registered estimator of cfg.Train.Method (nil for SFT). The reference
// model for β > 0 is a frozen copy of the starting parameters, loaded again from model.init (a
// path, or a name in named), or with LoRA the shared base.
func newRLState(cfg Config, named Catalog, m *model.Model) (*rlState, error) {
	r := cfg.RL
	if cfg.Train.Method == SFT {
		return nil, nil
	}
	est, err := r.estimator(cfg.Train.Method).New()
	if err != nil {
		return nil, fmt.Errorf("rl: %w", err)
	}
	st := &rlState{est: est}
	if r.Beta > 0 && m.LoRA != nil {
		// As in the official code: the reference is the base, the adapters switched off; it
		// shares the frozen weights.
		st.ref = model.New(m.B, m.Cfg, m.P)
	} else if r.Beta > 0 {
		ck, err := LoadModel(cfg.Model.Init, named, m.B)
		if err != nil {
			return nil, fmt.Errorf("rl.beta > 0: loading the reference model from model.init: %w", err)
		}
		st.ref = model.New(m.B, ck.Config, ck.Params)
	}
	return st, nil
}

// rolloutConfigs are the training samplers for a task, one per entry of rl.rollout.mixed_steps
// (or the one of rl.rollout.steps); RL step i uses entry i mod their number. Training on several
// step counts is what keeps a gain when the model is sampled with fewer steps than K.
func rolloutConfigs(ro RolloutConfig, t task.Task) []sampler.Config {
	steps := ro.MixedSteps
	if len(steps) == 0 {
		steps = []int{ro.Steps}
	}
	out := make([]sampler.Config, len(steps))
	for i, s := range steps {
		out[i] = sampler.Config{GenLength: t.AnswerLen(), BlockLength: ro.BlockLength, Steps: s,
			Temperature: float32(ro.Temperature), TopK: ro.TopK, TopP: float32(ro.TopP), Remasking: ro.Remasking, Confidence: ro.Confidence}.Resolved()
	}
	return out
}

// checkRollouts reports a rollout setting the task's answer length cannot honour, naming the key.
func checkRollouts(ro RolloutConfig, t task.Task) error {
	for _, c := range rolloutConfigs(ro, t) {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("rl.rollout (task %s): %w", t.Name(), err)
		}
	}
	return nil
}

// rlStep is one step of GRPO-style RL: sample prompts, G rollouts each, rewards, group-relative
// advantages, then μ updates with the estimator.
func (t *Trainer) rlStep() (stepResult, error) {
	r := t.Cfg.RL
	g := r.Group
	problems, prompts, err := t.drawPrompts()
	if err != nil {
		return stepResult{}, err
	}
	configs := rolloutConfigs(r.Rollout, t.Task)
	cfg := configs[t.Step%len(configs)]
	cfg.Seed = t.rng.Uint32()
	// Every rank draws the whole step's prompts and seed above, so the random stream moves as on
	// one process, and samples its share of the prompts (whole groups) as the rows they are in
	// the whole batch.
	plo, phi := dist.Share(r.Prompts, t.job.Rank(), t.job.Size())
	lo, hi := plo*g, phi*g
	cfg.RowOffset = lo
	rolloutStart := time.Now()
	tr, err := sampler.Generate(t.Model, prompts[lo:hi], cfg, nil)
	if err != nil {
		return stepResult{}, err
	}
	out, err := t.outcomes(problems, tr, lo, len(prompts))
	if err != nil {
		return stepResult{}, err
	}
	adv, meanStd, zeroStd := Advantages(out.rewards, g, r.ScaleRewards)
	rolloutS := time.Since(rolloutStart).Seconds()

	updateStart := time.Now()
	rolls := &pg.Rollouts{Traj: tr, Adv: adv[lo:hi]}
	if t.job.Size() > 1 {
		rolls.Shard = &pg.Shard{Offset: lo, Total: len(prompts), Sum: t.job.SumFloat64}
	}
	lr := LearningRate(t.Cfg.Train, t.Step+1)
	loss, norm, last, err := t.policyUpdates(rolls, lr)
	if err != nil {
		return stepResult{}, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return stepResult{Loss: loss}, nil // Run stops the run, keeping the last checkpoint
	}
	tokens := float64(tr.B * (tr.P + tr.C) * (tr.StepsRun + 1))
	if err := t.sum(&tokens); err != nil {
		return stepResult{}, err
	}
	nb := float64(len(prompts))
	mean, std := meanAndStd(out.rewards)
	m := map[string]float64{
		"reward": mean, "reward_std": std, "reward_group_std": meanStd, "frac_reward_zero_std": zeroStd,
		"accuracy": out.correct / nb, "completions/mean_length": out.length / nb, "rollout_steps": float64(cfg.Steps),
		"rollout_s": rolloutS, "update_s": time.Since(updateStart).Seconds(),
	}
	for _, s := range last.Means {
		m[s.Name] = s.Value
	}
	for n, v := range out.parts {
		m["rewards/"+n+"/mean"] = v
	}
	return stepResult{Loss: loss, GradNorm: norm, LR: lr, Tokens: int(tokens), Metrics: m,
		Summary: fmt.Sprintf("reward %.3f acc %.2f", mean, out.correct/nb)}, nil
}

// drawPrompts draws the step's training problems and lays out their G rollouts each.
func (t *Trainer) drawPrompts() ([]task.Problem, []sampler.Prompt, error) {
	r := t.Cfg.RL
	problems := make([]task.Problem, r.Prompts)
	prompts := make([]sampler.Prompt, 0, r.Prompts*r.Group)
	for i := range problems {
		problems[i] = t.Task.SampleTrain(t.rng)
		ids, mask, err := t.Enc.Prompt(t.Task, problems[i])
		if err != nil {
			return nil, nil, err
		}
		for k := 0; k < r.Group; k++ {
			prompts = append(prompts, sampler.Prompt{Tokens: ids, Mask: mask})
		}
	}
	return problems, prompts, nil
}

// stepOutcomes are the whole batch's rewards and, summed over its rows, the correct answers,
// answer lengths and, as means, the reward parts.
type stepOutcomes struct {
	rewards         []float64
	correct, length float64
	parts           map[string]float64
}

// outcomes scores this rank's rows (rows lo… of the nb in the whole batch) and gathers every
// row's outcome from the ranks, so that advantages and metrics are computed from the whole
// batch as on one process.
func (t *Trainer) outcomes(problems []task.Problem, tr *sampler.Trajectories, lo, nb int) (stepOutcomes, error) {
	g := t.Cfg.RL.Group
	names := t.Task.RewardNames()
	per := 3 + len(names) // reward, correct, answer length, reward parts
	outcome := make([]float64, nb*per)
	for row := 0; row < tr.B; row++ {
		text := t.Enc.Completion(tr.Completion(row))
		rw := t.Task.Reward(problems[(lo+row)/g], text)
		o := outcome[(lo+row)*per : (lo+row+1)*per]
		o[0], o[2] = rw.Total, float64(len(text))
		if rw.Correct {
			o[1] = 1
		}
		for i, n := range names {
			o[3+i] = rw.Parts[n]
		}
	}
	if err := t.gather(outcome); err != nil {
		return stepOutcomes{}, err
	}
	out := stepOutcomes{rewards: make([]float64, nb), parts: map[string]float64{}}
	for _, n := range names {
		out.parts[n] = 0
	}
	for row := range nb {
		o := outcome[row*per : (row+1)*per]
		out.rewards[row] = o[0]
		for i, n := range names {
			out.parts[n] += o[3+i] / float64(nb)
		}
		out.correct += o[1]
		out.length += o[2]
	}
	return out, nil
}

// policyUpdates prepares the estimator on the rollouts and takes its μ optimizer steps at lr.
// It returns the mean loss, the last gradient norm and the last step's statistics; a loss that
// is not finite is returned as it is, before any update with it.
func (t *Trainer) policyUpdates(rolls *pg.Rollouts, lr float64) (loss, norm float64, last pg.Stats, err error) {
	if err := t.rl.est.Prepare(t.Model, rolls, t.rng); err != nil {
		return 0, 0, pg.Stats{}, err
	}
	iters := t.rl.est.Iterations()
	for it := 0; it < iters; it++ {
		t.zeroGrads()
		st, err := t.rl.est.Accumulate(t.Model, t.rl.ref, rolls, it, t.rng)
		if err != nil {
			return 0, 0, pg.Stats{}, err
		}
		if st, err = t.sumStats(st); err != nil {
			return 0, 0, pg.Stats{}, err
		}
		if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
			return st.Loss, 0, pg.Stats{}, nil
		}
		if norm, err = t.update(lr); err != nil {
			return 0, 0, pg.Stats{}, err
		}
		loss += st.Loss / float64(iters)
		last = st
	}
	return loss, norm, last, nil
}

// meanAndStd are the mean and the population standard deviation of xs.
func meanAndStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x / float64(len(xs))
	}
	for _, x := range xs {
		std += (x - mean) * (x - mean) / float64(len(xs))
	}
	return mean, math.Sqrt(std)
}

// Advantages are rewards minus their group's mean (groups of g consecutive rows), divided by
// the group's standard deviation (+1e-4) when scale is set. It also returns the mean group
// standard deviation and the fraction of groups whose rewards are all equal (no signal).
func Advantages(rewards []float64, g int, scale bool) (adv []float64, meanStd, fracZeroStd float64) {
	adv = make([]float64, len(rewards))
	groups := len(rewards) / g
	for lo := 0; lo+g <= len(rewards); lo += g {
		var mean, sq float64
		for _, x := range rewards[lo : lo+g] {
			mean += x / float64(g)
		}
		for _, x := range rewards[lo : lo+g] {
			sq += (x - mean) * (x - mean)
		}
		std := math.Sqrt(sq / float64(g-1)) // torch.std: unbiased
		meanStd += std / float64(groups)
		if std < 1e-12 {
			fracZeroStd += 1 / float64(groups)
		}
		for i := lo; i < lo+g; i++ {
			adv[i] = rewards[i] - mean
			if scale {
				adv[i] /= std + 1e-4
			}
		}
	}
	return adv, meanStd, fracZeroStd
}
