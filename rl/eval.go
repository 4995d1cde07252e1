package rl

import (
	"cmp"
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/task"
)

// EvalOptions are the sampling settings of an evaluation; each step count is one run over the
// problems.
type EvalOptions struct {
	Steps       []int
	BlockLength int // 0 = one block
	Remasking   core.Remasking
	Temperature float32
	BatchSize   int
	Seed        uint32
	// Progress, if set, is told after each batch how many (problem, step count) pairs are done.
	Progress func(done, total int)
}

// EvalResult is the outcome at one step count.
type EvalResult struct {
	Steps      int                `json:"steps"`
	N          int                `json:"n"`
	Accuracy   float64            `json:"accuracy"`
	AccuracySE float64            `json:"accuracy_se"` // binomial standard error √(p(1−p)/n)
	MeanReward float64            `json:"mean_reward"`
	Parts      map[string]float64 `json:"reward_parts"` // mean of each reward function
}

// Completion is one problem's outcome, kept for inspection.
type Completion struct {
	Text    string
	Reward  task.Reward
	Problem task.Problem
}

// samplerConfig is the sampler of an evaluation of t at steps.
func (o EvalOptions) samplerConfig(t task.Task, steps int) sampler.Config {
	return sampler.Config{GenLength: t.AnswerLen(), BlockLength: cmp.Or(o.BlockLength, t.AnswerLen()), Steps: steps,
		Temperature: o.Temperature, Remasking: o.Remasking, Seed: o.Seed}
}

// Check reports the first step count (or block length, or temperature) the sampler cannot
// honour on t's answers, so that a caller can refuse it before any work.
func (o EvalOptions) Check(t task.Task) error {
	for _, steps := range o.Steps {
		if err := o.samplerConfig(t, steps).Validate(); err != nil {
			return fmt.Errorf("%d steps, block length %d (answers of %d tokens): %w", steps, o.BlockLength, t.AnswerLen(), err)
		}
	}
	return nil
}

// Evaluate samples a completion for every problem at every step count and scores it.
func Evaluate(m *model.Model, t task.Task, problems []task.Problem, o EvalOptions) ([]EvalResult, [][]Completion, error) {
	if len(problems) == 0 {
		return nil, nil, fmt.Errorf("evaluate: no problems")
	}
	prompts := make([]sampler.Prompt, len(problems))
	for i, p := range problems {
		ids, mask, err := task.EncodePrompt(t, p)
		if err != nil {
			return nil, nil, fmt.Errorf("evaluate: problem %d: %w", i, err)
		}
		prompts[i] = sampler.Prompt{Tokens: ids, Mask: mask}
	}
	if err := o.Check(t); err != nil {
		return nil, nil, fmt.Errorf("evaluate: %w", err)
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = len(problems)
	}
	var results []EvalResult
	var all [][]Completion
	done, total := 0, len(problems)*len(o.Steps)
	for _, steps := range o.Steps {
		cfg := o.samplerConfig(t, steps)
		res := EvalResult{Steps: steps, N: len(problems), Parts: map[string]float64{}}
		comps := make([]Completion, 0, len(problems))
		for lo := 0; lo < len(problems); lo += batch {
			hi := min(lo+batch, len(problems))
			tr, err := sampler.Generate(m, prompts[lo:hi], cfg, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("evaluate at %d steps, problems %d to %d: %w", steps, lo, hi-1, err)
			}
			for r := 0; r < tr.B; r++ {
				text := task.Answer(tr.Completion(r))
				rw := t.Reward(problems[lo+r], text)
				comps = append(comps, Completion{Text: text, Reward: rw, Problem: problems[lo+r]})
				res.MeanReward += rw.Total
				if rw.Correct {
					res.Accuracy++
				}
				for k, v := range rw.Parts {
					res.Parts[k] += v
				}
			}
			done += hi - lo
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}
		n := float64(len(problems))
		res.Accuracy /= n
		res.MeanReward /= n
		for k := range res.Parts {
			res.Parts[k] /= n
		}
		res.AccuracySE = math.Sqrt(res.Accuracy * (1 - res.Accuracy) / n)
		results = append(results, res)
		all = append(all, comps)
	}
	return results, all, nil
}
