package rl

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/dist"
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
	// Samples is the number of completions drawn per problem (0 or 1: one). With more, at T > 0,
	// Accuracy is the mean over all of them (pass@1) and PassAtN the fraction of problems with at
	// least one correct: the ceiling that sharpening the sampling distribution alone can reach.
	Samples int
	// Progress, if set, is told after each batch how many (problem, step count) pairs are done.
	Progress func(done, total int)
	// Encoder makes the model's tokens; the zero value is the tasks' character vocabulary.
	Encoder task.Encoder
	// Job, if set, splits the problems over the ranks of a data-parallel job: each samples its
	// share, keyed by the rows' places in the whole set, so the results are those of one process.
	Job dist.Comm
}

// EvalResult is the outcome at one step count.
type EvalResult struct {
	Steps      int     `json:"steps"`
	N          int     `json:"n"`
	Accuracy   float64 `json:"accuracy"`
	AccuracySE float64 `json:"accuracy_se"` // binomial standard error √(p(1−p)/n)
	// CellAccuracy is the share of graded cells filled right, pooled over all completions, for
	// tasks graded cell by cell (Sudoku: the official evaluation's metric); Accuracy counts
	// whole puzzles.
	CellAccuracy float64            `json:"cell_accuracy,omitempty"`
	Samples      int                `json:"samples,omitempty"`   // completions per problem, when more than one
	PassAtN      float64            `json:"pass_at_n,omitempty"` // problems with a correct completion among Samples
	MeanReward   float64            `json:"mean_reward"`
	Parts        map[string]float64 `json:"reward_parts"` // mean of each reward function
}

// Completion is one problem's outcome, kept for inspection.
type Completion struct {
	Text    string
	Reward  task.Reward
	Problem task.Problem
}

// samplerConfig is the sampler of an evaluation of t at steps.
func (o EvalOptions) samplerConfig(t task.Task, steps int) sampler.Config {
	return sampler.Config{GenLength: t.AnswerLen(), BlockLength: o.BlockLength, Steps: steps,
		Temperature: o.Temperature, Remasking: o.Remasking, Seed: o.Seed}.Resolved()
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

// Evaluate samples o.Samples completions (at least one) for every problem at every step count
// and scores them. The completions come back problem by problem, a problem's samples together.
// With o.Job, every rank gets the results over all problems and the completions of its share.
func Evaluate(m *model.Model, t task.Task, problems []task.Problem, o EvalOptions) ([]EvalResult, [][]Completion, error) {
	if len(problems) == 0 {
		return nil, nil, fmt.Errorf("evaluate: no problems")
	}
	per := max(o.Samples, 1)
	enc := o.Encoder
	if enc.Tok == nil {
		enc = task.CharEncoder
	}
	rows := make([]task.Problem, 0, len(problems)*per)
	prompts := make([]sampler.Prompt, 0, len(problems)*per)
	for i, p := range problems {
		ids, mask, err := enc.Prompt(t, p)
		if err != nil {
			return nil, nil, fmt.Errorf("evaluate: problem %d: %w", i, err)
		}
		for range per {
			rows = append(rows, p)
			prompts = append(prompts, sampler.Prompt{Tokens: ids, Mask: mask})
		}
	}
	if err := o.Check(t); err != nil {
		return nil, nil, fmt.Errorf("evaluate: %w", err)
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = len(rows)
	}
	// This rank's rows: whole problems. A batch's draws are keyed by the rows' places in it, so
	// a rank samples its part of each batch with that part's offset.
	own, end := 0, len(rows)
	if o.Job != nil {
		lo, hi := dist.Share(len(problems), o.Job.Rank(), o.Job.Size())
		own, end = lo*per, hi*per
	}
	names := t.RewardNames()
	width := 4 + len(names) // a row's outcome: correct, reward, cells right, cells, reward parts
	var results []EvalResult
	var all [][]Completion
	done, total := 0, (end-own)*len(o.Steps)
	for _, steps := range o.Steps {
		cfg := o.samplerConfig(t, steps)
		res := EvalResult{Steps: steps, N: len(problems), Parts: map[string]float64{}}
		comps := make([]Completion, 0, end-own)
		outcome := make([]float64, len(rows)*width)
		for start := 0; start < len(rows); start += batch {
			lo, hi := max(start, own), min(start+batch, len(rows), end)
			if lo >= hi {
				continue
			}
			c := cfg
			c.RowOffset = lo - start
			tr, err := sampler.Generate(m, prompts[lo:hi], c, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("evaluate at %d steps, problems %d to %d: %w", steps, lo, hi-1, err)
			}
			for r := 0; r < tr.B; r++ {
				text := enc.Completion(tr.Completion(r))
				rw := t.Reward(rows[lo+r], text)
				comps = append(comps, Completion{Text: text, Reward: rw, Problem: rows[lo+r]})
				out := outcome[(lo+r)*width : (lo+r+1)*width]
				if rw.Correct {
					out[0] = 1
				}
				out[1], out[2], out[3] = rw.Total, float64(rw.CellsRight), float64(rw.Cells)
				for i, k := range names {
					out[4+i] = rw.Parts[k]
				}
			}
			done += hi - lo
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}
		if o.Job != nil && o.Job.Size() > 1 {
			// Each row is one rank's and 0 elsewhere, so the sum gathers it exactly.
			if err := o.Job.SumFloat64(outcome); err != nil {
				return nil, nil, fmt.Errorf("evaluate: gathering the ranks' results: %w", err)
			}
		}
		solved := make([]bool, len(problems))
		var cellsRight, cells float64
		for row := range rows {
			out := outcome[row*width : (row+1)*width]
			res.MeanReward += out[1]
			cellsRight += out[2]
			cells += out[3]
			if out[0] != 0 {
				res.Accuracy++
				solved[row/per] = true
			}
			for i, k := range names {
				res.Parts[k] += out[4+i]
			}
		}
		n := float64(len(rows))
		res.Accuracy /= n
		res.MeanReward /= n
		for k := range res.Parts {
			res.Parts[k] /= n
		}
		if cells > 0 {
			res.CellAccuracy = cellsRight / cells
		}
		// Samples of one problem are not independent, so the error is taken over problems.
		res.AccuracySE = math.Sqrt(res.Accuracy * (1 - res.Accuracy) / float64(len(problems)))
		if per > 1 {
			res.Samples = per
			for _, ok := range solved {
				if ok {
					res.PassAtN++
				}
			}
			res.PassAtN /= float64(len(problems))
		}
		results = append(results, res)
		all = append(all, comps)
	}
	return results, all, nil
}
