package infer

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// TestRequestErrors: every mistake a user can type in the page is an error that says which
// field is wrong, never a panic, and carries no JSONL line prefix.
func TestRequestErrors(t *testing.T) {
	for _, c := range []struct {
		r    Request
		want string
	}{
		{Request{Task: "chess"}, `unknown task "chess"`},
		{Request{Task: "sudoku", Problem: `{"puzzle":"12"}`}, `puzzle: "12" has 2 characters, want 16`},
		{Request{Task: "sudoku", Problem: `{"puzzle":"1..."}` + "\n" + `{"puzzle":"2..."}`}, "one line"},
		{Request{Task: "sudoku", Problem: `not json`}, "not a JSON object"},
		{Request{Task: "sudoku", Problem: " "}, "no problem"},
		{Request{Task: "countdown", Problem: `{"numbers":[3,7],"target":10}`}, "numbers: want 3, got 2"},
		{Request{Task: "countdown", Remasking: "best"}, `remasking: unknown remasking "best"`},
		{Request{Task: "countdown", Temperature: math.NaN()}, "temperature = NaN"},
		{Request{Task: "countdown", Temperature: math.Inf(1)}, "temperature = +Inf"},
		{Request{Task: "countdown", Temperature: -1}, "temperature = -1"},
		{Request{Task: "countdown", Block: 5}, "block_length = 5 must divide"},
		{Request{Task: "countdown", Steps: 13}, "steps = 13 gives more steps per block"},
		{Request{Task: "countdown", Steps: -1}, "steps = -1"},
	} {
		_, err := Describe(c.r)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "JSONL line") {
			t.Errorf("%+v: error %v, want one containing %q", c.r, err, c.want)
		}
	}
}

// TestDescribeDefaults: a test problem by seed is the one `demo sample -seed` shows, and the
// settings default to one step per answer token in one block.
func TestDescribeDefaults(t *testing.T) {
	tk, _ := task.ByName("sudoku")
	p, err := Describe(Request{Task: "sudoku", ProblemSeed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := TestProblem(tk, 3); p.Prompt != want.Prompt || p.Reference != want.Answer || p.AnswerLen != 16 {
		t.Errorf("got %+v, want the prompt %q", p, want.Prompt)
	}
	_, _, cfg, err := Request{Task: "sudoku"}.Resolve()
	if err != nil || cfg.Steps != 16 || cfg.BlockLength != 16 || cfg.Remasking.String() != "low_confidence" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}

func TestLoadDamaged(t *testing.T) {
	raw, _ := models.Shipped.Bytes("sudoku-base")
	for _, b := range [][]byte{nil, []byte("not a checkpoint"), raw[:len(raw)/2]} {
		if _, err := Load("bad", b); err == nil || !strings.Contains(err.Error(), "bad") {
			t.Errorf("%d bytes: error %v, want one naming the checkpoint", len(b), err)
		}
	}
}

// TestGenerateStates checks the recorded states of a run that stops early: the start is all
// masks, each step reveals the tokens the trajectory says it revealed, and the last state is
// the EOS fill, which is marked and whose tokens count as filled, not sampled.
func TestGenerateStates(t *testing.T) {
	raw, _ := models.Shipped.Bytes("countdown-base")
	m, err := Load("countdown-base", raw)
	if err != nil {
		t.Fatal(err)
	}
	var streamed []Step
	// Problem 0 with blocks of 3 ends its answer within three blocks (see the wasip1 test).
	res, err := Generate(m, Request{Task: "countdown", ProblemSeed: 0, Steps: 12, Block: 3}, func(s Step) { streamed = append(streamed, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(streamed) != len(res.States) {
		t.Fatalf("onStep saw %d states, the result has %d", len(streamed), len(res.States))
	}
	last := res.States[len(res.States)-1]
	if !last.Fill || res.StepsRun >= res.Steps || last.Step != res.StepsRun {
		t.Fatalf("want an early stop ending in a fill state; ran %d of %d steps, last state %+v", res.StepsRun, res.Steps, last)
	}
	for i, s := range res.States {
		if i > 0 && s.Step != res.States[i-1].Step+1 {
			t.Errorf("state %d is step %d after step %d", i, s.Step, res.States[i-1].Step)
		}
		for j, id := range s.Tokens {
			if shown := int(res.RevealStep[j]) <= s.Step; shown != (id != task.Mask) {
				t.Errorf("state %d, token %d: %d, revealed at step %d", i, j, id, res.RevealStep[j])
			}
		}
		if s.Step >= 0 && len(s.Revealed) == 0 {
			t.Errorf("state %d reveals nothing", i)
		}
	}
	for j, f := range res.Filled {
		if want := int(res.RevealStep[j]) == res.StepsRun; f != want || f && (res.Tokens[j] != task.EOS || !slices.Contains(last.Revealed, j)) {
			t.Errorf("token %d: filled %v, revealed at step %d of %d", j, f, res.RevealStep[j], res.StepsRun)
		}
		if c := res.Confidence[j]; !(c > 0 && c <= 1) {
			t.Errorf("token %d: confidence %g", j, c)
		}
	}
	tk, _ := task.ByName("countdown")
	if rw := tk.Reward(TestProblem(tk, 0), res.Answer); res.Answer != task.Answer(res.Tokens) || rw.Total != res.Reward {
		t.Errorf("answer %q reward %g, want %q %g", res.Answer, res.Reward, task.Answer(res.Tokens), rw.Total)
	}
}

func TestAbout(t *testing.T) {
	in, err := About([]string{"sudoku", "countdown"})
	if err != nil || len(in.Tasks) != 2 || in.Tasks[0].AnswerLen != 16 || len(in.Glyphs) != task.VocabSize ||
		in.Glyphs[in.Mask] != "_" || in.Glyphs[7] != "7" {
		t.Errorf("About: %+v, %v", in, err)
	}
	if _, err := About([]string{"chess"}); err == nil {
		t.Error("About(chess): no error")
	}
}
