package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/dist"
)

// runEval runs `demo eval`; under mpirun the ranks split the problems and rank 0 prints.
func runEval(args []string, stdout, stderr io.Writer) error {
	return asJob(eval, args, stdout, stderr)
}

func eval(job dist.Comm, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval -ckpt PATH|NAME -task NAME [-n N] [-steps 12,6,3] [-data FILE.jsonl] [-dtype auto|f32] [-json]", stderr)
	ckpt := fs.String("ckpt", "", "checkpoint path, Hugging Face model folder (LLaDA's layout) or shipped model name")
	taskName := fs.String("task", "", "countdown | sudoku | arithmetic; with a model's own tokenizer also gsm8k | countdown_chat | sudoku_chat")
	n := fs.Int("n", 0, "number of problems (0 = all of the test split or the data file)")
	stepsFlag := fs.String("steps", "", "comma-separated sampling step counts (default: the answer length K, K/2, K/4)")
	data := fs.String("data", "", "evaluate on your own problems (JSONL, see rl/task) instead of the test split")
	block := fs.Int("block", 0, "block length (0 = the whole answer is one block)")
	remask := fs.String("remasking", "low_confidence", "low_confidence | random | entropy")
	temp := fs.Float64("temperature", 0, "sampling temperature (0 = greedy)")
	seed := fs.Uint("seed", 0, "random seed (for T > 0 or random remasking)")
	batch := fs.Int("batch", 250, "completions per sampling batch")
	samples := fs.Int("samples", 1, "completions per problem; with more than one (at T > 0), also pass@N: the problems solved by at least one")
	asJSON := fs.Bool("json", false, "print the results as JSON on stdout")
	device := fs.String("device", "auto", deviceHelp)
	anyTask := fs.Bool("any-task", false, "use a checkpoint trained for another task than -task")
	weights := weightsFlag(fs)
	adapter := fs.String("adapter", "", adaptersHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, why, closeBackend, err := openRankBackend(job, *device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	t, m, enc, rm, err := taskAndModel("eval", *taskName, *ckpt, *adapter, *remask, *anyTask, *weights, b, stderr)
	if err != nil {
		return err
	}
	steps, err := parseSteps(*stepsFlag, t.AnswerLen())
	if err != nil {
		fmt.Fprintf(stderr, "demo eval: -steps: %v\n", err)
		return errUsage
	}
	opts := rl.EvalOptions{Steps: steps, BlockLength: *block, Remasking: rm, Temperature: float32(*temp), BatchSize: *batch,
		Seed: uint32(*seed), Samples: *samples, Encoder: enc}
	if job.Size() > 1 {
		opts.Job = job
		why += fmt.Sprintf(" (rank 0 of %d; problems split over the ranks)", job.Size())
	}
	if *n < 0 || *batch <= 0 || *samples < 1 {
		fmt.Fprintln(stderr, "demo eval: -n must be ≥ 0, -batch > 0 and -samples ≥ 1")
		return errUsage
	}
	if err := opts.Check(t); err != nil {
		fmt.Fprintf(stderr, "demo eval: -steps, -block, -temperature: %v\n", err)
		return errUsage
	}
	problems := t.Test()
	source := "test split"
	if *data != "" {
		f, err := os.Open(*data)
		if err != nil {
			return refused(err)
		}
		problems, err = t.ParseJSONL(f)
		f.Close()
		if err != nil {
			return refused(fmt.Errorf("%s: %w", *data, err))
		}
		source = *data
	}
	if *n > 0 && *n < len(problems) {
		problems = problems[:*n]
	}
	if !*asJSON {
		fmt.Fprintf(stderr, "evaluating %s on %d %s problems (%s) at %v steps, %s, T=%g\ndevice: %s\nweights: %s\n",
			*ckpt, len(problems), t.Name(), source, steps, rm, *temp, why, held(m))
	}
	opts.Progress = func(done, total int) {
		if !*asJSON {
			fmt.Fprintf(stderr, "\r  %d/%d", done, total)
		}
	}
	res, _, err := rl.Evaluate(m, t, problems, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"checkpoint": *ckpt, "task": t.Name(), "source": source, "device": b.Name(),
			"n": len(problems), "remasking": rm.String(), "temperature": *temp, "weights": held(m), "results": res})
	}
	fmt.Fprintln(stderr)
	cellGraded := res[0].CellAccuracy > 0
	fmt.Fprintf(stdout, "%-6s %9s %9s %12s", "steps", "accuracy", "± s.e.", "mean reward")
	if cellGraded {
		fmt.Fprintf(stdout, " %9s", "cell acc")
	}
	if *samples > 1 {
		fmt.Fprintf(stdout, " %9s", fmt.Sprintf("pass@%d", *samples))
	}
	fmt.Fprintln(stdout)
	for _, r := range res {
		fmt.Fprintf(stdout, "%-6d %8.1f%% %8.1f%% %12.3f", r.Steps, 100*r.Accuracy, 100*r.AccuracySE, r.MeanReward)
		if cellGraded {
			fmt.Fprintf(stdout, " %8.1f%%", 100*r.CellAccuracy)
		}
		if *samples > 1 {
			fmt.Fprintf(stdout, " %8.1f%%", 100*r.PassAtN)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// parseSteps reads "12,6,3"; empty means K, K/2, K/4 for an answer of K tokens.
func parseSteps(s string, k int) ([]int, error) {
	if s == "" {
		out := []int{k}
		for _, d := range []int{2, 4} {
			if k/d >= 1 && k%d == 0 {
				out = append(out, k/d)
			}
		}
		return out, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive step count", f)
		}
		out = append(out, v)
	}
	return out, nil
}
