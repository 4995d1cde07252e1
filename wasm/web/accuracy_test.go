package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
	"github.com/dllmrl/agrpo/wasm/infer"
)

var (
	evaluate       = flag.Bool("evaluate", false, "evaluate every shipped model on its test split (minutes) and check accuracy.json against it")
	updateAccuracy = flag.Bool("update-accuracy", false, "evaluate every shipped model and rewrite accuracy.json")
)

// accuracyFile is what the page shows of each checkpoint's measured accuracy (accuracy.json),
// so the numbers are generated from an evaluation rather than typed into the page.
type accuracyFile struct {
	About  string          `json:"about"`
	N      int             `json:"n"`
	Models []modelAccuracy `json:"models"`
	// Showcase is the first screen's comparison: the first test problem (by seed, as the page
	// picks them) on which the base model is wrong and every RL model of its task is right, at
	// K steps with the page's default settings.
	Showcase struct {
		Task        string `json:"task"`
		ProblemSeed uint64 `json:"problemSeed"`
	} `json:"showcase"`
}

type modelAccuracy struct {
	Name   string      `json:"name"`
	Task   string      `json:"task"`
	Method string      `json:"method"`
	Solved []solvedAtK `json:"solved"`
}

type solvedAtK struct {
	Steps  int `json:"steps"`
	Solved int `json:"solved"`
}

// showcaseTask is the task the page opens on: the one where RL helps most (docs/results.md).
const showcaseTask = "sudoku"

// evalSteps is K, K/2 and K/4 for an answer of k tokens, the halvings that divide it, as
// `demo eval` takes them by default.
func evalSteps(k int) []int {
	out := []int{k}
	for _, d := range []int{2, 4} {
		if k%d == 0 {
			out = append(out, k/d)
		}
	}
	return out
}

// evaluateShipped evaluates every shipped model as `demo eval -ckpt NAME -task TASK` does:
// the whole test split, greedy, low-confidence remasking, one block, batches of 250.
func evaluateShipped(t *testing.T) []modelAccuracy {
	var out []modelAccuracy
	for _, name := range models.Shipped.Names() {
		taskName, method, _ := strings.Cut(name, "-")
		tk, err := task.ByName(taskName)
		if err != nil {
			t.Fatal(err)
		}
		b := cpu.New()
		ck, err := rl.LoadModel(name, models.Shipped, b)
		if err != nil {
			t.Fatal(err)
		}
		steps := evalSteps(tk.AnswerLen())
		res, _, err := rl.Evaluate(model.New(b, ck.Config, ck.Params), tk, tk.Test(), rl.EvalOptions{Steps: steps, BatchSize: 250})
		if err != nil {
			t.Fatal(err)
		}
		m := modelAccuracy{Name: name, Task: taskName, Method: method}
		for _, r := range res {
			m.Solved = append(m.Solved, solvedAtK{Steps: r.Steps, Solved: int(r.Accuracy*float64(r.N) + 0.5)})
		}
		t.Logf("%s: %+v of %d", name, m.Solved, len(tk.Test()))
		out = append(out, m)
	}
	return out
}

// findShowcase returns the first problem seed on which the task's base model is wrong and all
// its RL models are right, generating as the page does by default.
func findShowcase(t *testing.T, taskName string) uint64 {
	var base *infer.Model
	var tuned []*infer.Model
	for _, name := range models.Shipped.Names() {
		tn, method, _ := strings.Cut(name, "-")
		if tn != taskName {
			continue
		}
		raw, _ := models.Shipped.Bytes(name)
		m, err := infer.Load(name, raw)
		if err != nil {
			t.Fatal(err)
		}
		if method == "base" {
			base = m
		} else {
			tuned = append(tuned, m)
		}
	}
	if base == nil || len(tuned) == 0 {
		t.Fatalf("%s needs a base and an RL model to compare", taskName)
	}
	correct := func(m *infer.Model, seed uint64) bool {
		res, err := infer.Generate(m, infer.Request{Task: taskName, ProblemSeed: seed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Correct
	}
	for seed := uint64(0); seed < 200; seed++ {
		if correct(base, seed) {
			continue
		}
		if !slices.ContainsFunc(tuned, func(m *infer.Model) bool { return !correct(m, seed) }) {
			return seed
		}
	}
	t.Fatalf("no %s problem among the first 200 seeds where the base is wrong and every RL model right", taskName)
	return 0
}

// docsRow matches a row of docs/results.md's table of shipped models: the name, then the test
// accuracies at K, K/2, K/4 in %, bold or not, "–" where a step count does not divide K.
var docsRow = regexp.MustCompile("(?m)^\\| `([a-z]+-[a-z]+)` \\| \\**([0-9.]+)\\** \\| \\**([0-9.–]+)\\** \\| \\**([0-9.–]+)\\** \\|")

// docsAccuracies reads that table: model name → accuracies in %, as written.
func docsAccuracies(t *testing.T) map[string][]string {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(raw), "## The shipped RL models")
	if !ok {
		t.Fatal(`docs/results.md has no section "## The shipped RL models"`)
	}
	table, _, _ = strings.Cut(table, "\n## ")
	out := map[string][]string{}
	for _, m := range docsRow.FindAllStringSubmatch(table, -1) {
		out[m[1]] = m[2:]
	}
	return out
}

// TestAccuracy: accuracy.json, which the page shows, lists exactly the shipped models with
// their test accuracies at K, K/2 and K/4 as docs/results.md reports them, and its showcase is
// the first problem where the base is wrong and the RL models right. With -evaluate it also
// evaluates every model (minutes) and fails when the file disagrees; -update-accuracy rewrites
// the file from a fresh evaluation.
func TestAccuracy(t *testing.T) {
	raw, err := os.ReadFile("accuracy.json")
	if err != nil && !*updateAccuracy {
		t.Fatal(err)
	}
	var got accuracyFile
	if err == nil {
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("accuracy.json: %v", err)
		}
	}
	if *updateAccuracy || *evaluate {
		want := accuracyFile{
			About: "Generated by `go test ./wasm/web -run TestAccuracy -update-accuracy`: rl.Evaluate on each task's " +
				"test split, greedy, low-confidence remasking, one block, at K, K/2 and K/4 steps.",
			N:      500,
			Models: evaluateShipped(t),
		}
		want.Showcase.Task = showcaseTask
		want.Showcase.ProblemSeed = findShowcase(t, showcaseTask)
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, '\n')
		if *updateAccuracy {
			if err := os.WriteFile("accuracy.json", b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(raw, b) {
			t.Fatalf("accuracy.json differs from a fresh evaluation (-update-accuracy rewrites it):\n%s", b)
		}
	}

	var names []string
	for _, m := range got.Models {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, models.Shipped.Names()) {
		t.Errorf("accuracy.json lists %v, the shipped models are %v (-update-accuracy)", names, models.Shipped.Names())
	}
	docs := docsAccuracies(t)
	for _, m := range got.Models {
		tk, err := task.ByName(m.Task)
		if err != nil || m.Name != m.Task+"-"+m.Method {
			t.Errorf("%s: task %q, method %q", m.Name, m.Task, m.Method)
			continue
		}
		var steps []int
		var pct []string
		for _, s := range m.Solved {
			steps = append(steps, s.Steps)
			pct = append(pct, strconv.FormatFloat(100*float64(s.Solved)/float64(got.N), 'f', 1, 64))
		}
		if want := evalSteps(tk.AnswerLen()); !slices.Equal(steps, want) {
			t.Errorf("%s: accuracies at %v steps, want %v", m.Name, steps, want)
		}
		row, ok := docs[m.Name]
		if !ok {
			t.Errorf("docs/results.md's table of shipped models has no row for %s", m.Name)
			continue
		}
		for i, p := range pct {
			if row[i] != p {
				t.Errorf("%s at %d steps: accuracy.json says %s %%, docs/results.md %s %%", m.Name, steps[i], p, row[i])
			}
		}
		for i := len(pct); i < len(row); i++ {
			if row[i] != "–" {
				t.Errorf("%s: docs/results.md has %s %% at a step count accuracy.json lacks", m.Name, row[i])
			}
		}
	}
	if got.Showcase.Task != showcaseTask {
		t.Errorf("showcase task %q, want %q", got.Showcase.Task, showcaseTask)
	} else if seed := findShowcase(t, showcaseTask); got.Showcase.ProblemSeed != seed {
		t.Errorf("showcase problem seed %d, the first where the models differ is %d", got.Showcase.ProblemSeed, seed)
	}
}
