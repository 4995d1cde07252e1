package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dllmrl/agrpo/configs"
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// storyResult is the before/after table `go run ./demo -json` prints as its last line.
type storyResult struct {
	Task    string       `json:"task"`
	Device  string       `json:"device"`
	Budget  string       `json:"budget"`
	RunDir  string       `json:"run_dir"`
	Results []storyTable `json:"results"`
}

type storyTable struct {
	Steps          int     `json:"steps"`
	N              int     `json:"n"`
	AccuracyBefore float64 `json:"accuracy_before"`
	AccuracyAfter  float64 `json:"accuracy_after"`
	RewardBefore   float64 `json:"mean_reward_before"`
	RewardAfter    float64 `json:"mean_reward_after"`
}

// runStory is `go run ./demo` with no subcommand: evaluate a shipped base model, fine-tune it
// with AGRPO for a short fixed budget, evaluate again, and show the difference.
func runStory(args []string, stdout, stderr io.Writer) error {
	o, err := parseStoryFlags(args, stderr)
	if err != nil {
		return err
	}
	t := o.task
	b, why, closeBackend, err := openBackend(o.device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	start := time.Now()
	say := func(format string, a ...any) { fmt.Fprintf(stderr, format, a...) }

	deviceName := b.Name()
	if _, isCPU := b.(*cpu.Backend); isCPU {
		deviceName += ", " + gemm.Kernel() + " GEMM kernel"
	}
	say("device: %s\n", why)
	baseName := t.Name() + "-base"
	ck, err := rl.LoadModel(baseName, models.Shipped, b)
	if err != nil {
		return err
	}
	base := model.New(b, ck.Config, ck.Params)
	// The run folder first, so that an -out that cannot hold it is refused before any work.
	cfg, err := storyConfig(t, o.budget, o.seed, o.out, o.device)
	if err != nil {
		return err
	}
	tr, err := rl.NewRun(cfg, models.Shipped, b, io.Discard)
	if err != nil {
		return refused(err)
	}
	problems := t.Test()[:min(o.n, len(t.Test()))]
	say("\n1. the shipped %s (%.2f M parameters, trained by masked-diffusion SFT) on %d test problems\n",
		baseName, float64(ck.Config.NumParams())/1e6, len(problems))
	before, err := storyEval(base, t, problems, o.steps, stderr)
	if err != nil {
		return err
	}

	agrpo, ok := cfg.RL.Estimators["agrpo"].(pg.AGRPOConfig)
	if !ok {
		return fmt.Errorf("configs/%s-agrpo.toml: no AGRPO settings", t.Name())
	}
	say("\n2. AGRPO fine-tuning with configs/%s-agrpo.toml: %d steps × %d prompts × %d rollouts (T=%.1f, %s unmasking order, %s sampling steps, %d Monte Carlo steps per rollout, lr %g)\n",
		t.Name(), o.budget, cfg.RL.Prompts, cfg.RL.Group, cfg.RL.Rollout.Temperature, cfg.RL.Rollout.Remasking,
		rolloutSteps(cfg.RL.Rollout), agrpo.MCSamples, cfg.Train.LR)
	if err := storyTrain(tr, o.budget, stderr); err != nil {
		return err
	}

	say("\n3. the fine-tuned model on the same %d test problems\n", len(problems))
	after, err := storyEval(tr.Model, t, problems, o.steps, stderr)
	if err != nil {
		return err
	}
	res := storyResult{Task: t.Name(), Device: deviceName, RunDir: tr.Dir,
		Budget:  fmt.Sprintf("%d AGRPO steps × %d rollouts", o.budget, cfg.RL.Prompts*cfg.RL.Group),
		Results: printStoryTable(stdout, t, len(problems), o.steps, before, after)}

	p := storyExample(t, problems, before[0].completions, after[0].completions)
	fmt.Fprintf(stdout, "\n4. one test problem, unmasked step by step (%d steps), before and after:\n", o.steps[0])
	sc := sampler.Config{GenLength: t.AnswerLen(), Steps: o.steps[0], Remasking: core.LowConfidence}
	for _, which := range []struct {
		name string
		m    *model.Model
	}{{"before", base}, {"after", tr.Model}} {
		fmt.Fprintf(stdout, "\n%s:\n", which.name)
		text, rw, err := showUnmasking(stdout, which.m, task.CharEncoder, t, p, sc, isTerminal(stdout))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "answer %q: reward %.3f of 4, correct %v\n", text, rw.Total, rw.Correct)
	}

	if _, note, err := plotRun(tr.Dir); err != nil {
		return err
	} else if note != "" {
		say("%s\n", note)
	}
	fmt.Fprintf(stdout, "\n5. run folder %s (config.toml, metrics.jsonl, checkpoint, model.safetensors, curves.png), %s in all\n",
		tr.Dir, time.Since(start).Round(time.Second))
	fmt.Fprintf(stdout, "   go further:\n")
	fmt.Fprintf(stdout, "     go run ./demo eval -ckpt %s -task %s\n", filepath.Join(tr.Dir, rl.ModelFile), t.Name())
	fmt.Fprintf(stdout, "     go run ./demo train -config configs/%s-agrpo.toml\n", t.Name())
	fmt.Fprintf(stdout, "     go run ./demo sample -ckpt %s -task %s -seed 3\n", baseName, t.Name())
	if o.json {
		line, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(line))
	}
	return nil
}

// storyOptions are the story's flags, checked.
type storyOptions struct {
	task      task.Task
	budget, n int
	steps     []int
	seed      uint64
	device    string
	out       string
	json      bool
}

// parseStoryFlags reads and checks the story's flags; a wrong one is a usage error.
func parseStoryFlags(args []string, stderr io.Writer) (storyOptions, error) {
	fs := newFlags("", "[-task sudoku|countdown] [-budget N] [-n N] [-steps K1,K2] [-seed S] [-device D] [-json]", stderr)
	taskName := fs.String("task", "sudoku", "task of the shipped base model to fine-tune: sudoku (the clearer gain, docs/results.md) or countdown")
	budget := fs.Int("budget", 0, "RL steps (16 prompts × 8 rollouts each); 0 = the task's default")
	n := fs.Int("n", 500, "test problems evaluated before and after")
	stepsFlag := fs.String("steps", "", "two sampling step counts to evaluate at (default: K and K/4)")
	seed := fs.Uint64("seed", 1, "seed of the RL run")
	device := fs.String("device", "auto", deviceHelp)
	out := fs.String("out", "runs", "parent folder of the run folder")
	asJSON := fs.Bool("json", false, "print the before/after table as one JSON object on the last line")
	if err := parseFlags(fs, args); err != nil {
		return storyOptions{}, err
	}
	t, err := task.ByName(*taskName)
	if err != nil || (t.Name() != "countdown" && t.Name() != "sudoku") {
		fmt.Fprintf(stderr, "demo: -task %q: a shipped base model exists for countdown and sudoku\n", *taskName)
		return storyOptions{}, errUsage
	}
	if *budget < 0 || *n <= 0 {
		fmt.Fprintln(stderr, "demo: -budget must be ≥ 0 and -n positive")
		return storyOptions{}, errUsage
	}
	if *budget == 0 {
		*budget = storyBudget[t.Name()]
	}
	steps, err := parseSteps(*stepsFlag, t.AnswerLen())
	if err != nil || len(steps) == 0 {
		fmt.Fprintf(stderr, "demo: -steps: %v\n", err)
		return storyOptions{}, errUsage
	}
	if *stepsFlag == "" {
		steps = []int{steps[0], steps[len(steps)-1]}
	}
	if err := (rl.EvalOptions{Steps: steps}).Check(t); err != nil {
		fmt.Fprintf(stderr, "demo: -steps: %v\n", err)
		return storyOptions{}, errUsage
	}
	return storyOptions{task: t, budget: *budget, n: *n, steps: steps, seed: *seed, device: *device, out: *out, json: *asJSON}, nil
}

// storyTrain runs the story's RL with a live line. Ctrl-C during training checkpoints the run;
// elsewhere it just ends the program, as nothing is half-written then.
func storyTrain(tr *rl.Trainer, budget int, stderr io.Writer) error {
	live := newLiveLine(stderr, budget)
	tr.OnStep = live.update
	ctx, stop := interruptible(stderr)
	err := tr.Run(ctx)
	stop()
	live.finish()
	if errors.Is(err, rl.ErrInterrupted) {
		fmt.Fprintf(stderr, "interrupted at step %d; the run folder %s keeps the checkpoint (go run ./demo train -resume %s)\n", tr.Step, tr.Dir, tr.Dir)
	}
	return err
}

// printStoryTable prints the before/after table and returns its rows.
func printStoryTable(stdout io.Writer, t task.Task, n int, steps []int, before, after []evalOutcome) []storyTable {
	fmt.Fprintf(stdout, "\n%s, %d test problems (greedy, low-confidence order)\n", t.Name(), n)
	fmt.Fprintf(stdout, "%-16s %10s %10s %14s %14s\n", "sampling steps", "acc before", "acc after", "reward before", "reward after")
	rows := make([]storyTable, len(steps))
	for i := range steps {
		row := storyTable{Steps: steps[i], N: n, AccuracyBefore: before[i].Accuracy, AccuracyAfter: after[i].Accuracy,
			RewardBefore: before[i].MeanReward, RewardAfter: after[i].MeanReward}
		rows[i] = row
		fmt.Fprintf(stdout, "%-16d %9.1f%% %9.1f%% %14.3f %14.3f\n", row.Steps, 100*row.AccuracyBefore, 100*row.AccuracyAfter, row.RewardBefore, row.RewardAfter)
	}
	return rows
}

// storyBudget is the default number of RL steps per task, sized to finish the whole story in
// under five minutes on a 2-core laptop CPU (docs/results.md has the measured run).
var storyBudget = map[string]int{"countdown": 200, "sudoku": 200}

// storyConfig is the story's AGRPO run: the shipped recipe configs/TASK-agrpo.toml with the
// story's budget, seed, device and run folder, and no evaluation inside the run (the story
// evaluates before and after itself).
func storyConfig(t task.Task, budget int, seed uint64, out, device string) (rl.Config, error) {
	name := t.Name() + "-agrpo.toml"
	raw, err := configs.Read(name)
	if err != nil {
		return rl.Config{}, fmt.Errorf("the story's recipe: %w", err)
	}
	c := rl.DefaultConfig()
	if err := rl.DecodeConfig("configs/"+name, raw, &c); err != nil {
		return rl.Config{}, err
	}
	c.Run = rl.RunConfig{Name: fmt.Sprintf("demo-%s-%s", t.Name(), time.Now().Format("20060102-150405")), OutDir: out, Seed: seed, Device: device}
	c.Train.Steps, c.Train.LogEvery, c.Train.EvalEvery, c.Train.CheckpointEvery = budget, 1, 0, max(budget/2, 1)
	c.Eval.Steps = nil
	return c, nil
}

// rolloutSteps names the rollouts' sampling step counts ("16, 8, 4 in turn", or one count).
func rolloutSteps(ro rl.RolloutConfig) string {
	if len(ro.MixedSteps) == 0 {
		if ro.Steps == 0 {
			return "K"
		}
		return strconv.Itoa(ro.Steps)
	}
	parts := make([]string, len(ro.MixedSteps))
	for i, s := range ro.MixedSteps {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, ", ") + " in turn"
}

// evalOutcome is one step count's result with its completions (for picking an example).
type evalOutcome struct {
	rl.EvalResult
	completions []rl.Completion
}

func storyEval(m *model.Model, t task.Task, problems []task.Problem, steps []int, w io.Writer) ([]evalOutcome, error) {
	res, comps, err := rl.Evaluate(m, t, problems, rl.EvalOptions{Steps: steps, Remasking: core.LowConfidence, BatchSize: 250,
		Progress: func(done, total int) { fmt.Fprintf(w, "\r   evaluating %s", bar(done, total, 30)) }})
	fmt.Fprintln(w)
	if err != nil {
		return nil, err
	}
	out := make([]evalOutcome, len(res))
	for i, r := range res {
		out[i] = evalOutcome{r, comps[i]}
		fmt.Fprintf(w, "   %2d steps: accuracy %5.1f%%, mean reward %.3f of 4\n", r.Steps, 100*r.Accuracy, r.MeanReward)
	}
	return out, nil
}

// storyExample picks a problem the fine-tuned model solves and the base did not, if any, else
// the first problem.
func storyExample(t task.Task, problems []task.Problem, before, after []rl.Completion) task.Problem {
	for i := range problems {
		if after[i].Reward.Correct && !before[i].Reward.Correct {
			return problems[i]
		}
	}
	return problems[0]
}

// liveLine is the one-line progress display of the RL phase.
type liveLine struct {
	w           io.Writer
	total       int
	start       time.Time
	reward, acc float64
	tokens      int
	steps       int
}

func newLiveLine(w io.Writer, total int) *liveLine {
	return &liveLine{w: w, total: total, start: time.Now()}
}

func (l *liveLine) update(st rl.StepInfo) {
	l.steps++
	l.reward += st.Metrics["reward"]
	l.acc += st.Metrics["accuracy"]
	l.tokens += st.Tokens
	el := time.Since(l.start)
	left := time.Duration(float64(el) / float64(l.steps) * float64(l.total-st.Step))
	fmt.Fprintf(l.w, "\r   %s step %d/%d  reward %.3f  rollout acc %.1f%% (mean so far %.3f / %.1f%%)  %.0f tok/s  %s left   ",
		bar(st.Step, l.total, 20), st.Step, l.total, st.Metrics["reward"], 100*st.Metrics["accuracy"],
		l.reward/float64(l.steps), 100*l.acc/float64(l.steps), float64(l.tokens)/el.Seconds(), left.Round(time.Second))
}

func (l *liveLine) finish() { fmt.Fprintln(l.w) }

// bar draws a text progress bar.
func bar(done, total, width int) string {
	filled := width * done / max(total, 1)
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}
