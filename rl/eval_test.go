package rl

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// TestEvaluateSamples: with several samples per problem, accuracy is the mean over every
// completion and pass@N the share of problems with a correct one, both recounted here from the
// completions; greedy samples of one problem are all the same completion.
func TestEvaluateSamples(t *testing.T) {
	b := cpu.New()
	ck, err := LoadModel("sudoku-base", models.Shipped, b)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(b, ck.Config, ck.Params)
	tk, _ := task.ByName("sudoku")
	problems := tk.Test()[:24]
	const per = 4
	res, comps, err := Evaluate(m, tk, problems, EvalOptions{Steps: []int{4}, Remasking: core.LowConfidence,
		Temperature: 1, Seed: 5, BatchSize: 40, Samples: per})
	if err != nil {
		t.Fatal(err)
	}
	if len(comps[0]) != per*len(problems) {
		t.Fatalf("%d completions, want %d", len(comps[0]), per*len(problems))
	}
	var correct, solved, cellsRight, cells float64
	for i := range problems {
		any := false
		for _, c := range comps[0][i*per : (i+1)*per] {
			cellsRight += float64(c.Reward.CellsRight)
			cells += float64(c.Reward.Cells)
			if c.Problem.Prompt != problems[i].Prompt {
				t.Fatalf("completion of problem %d is for %q", i, c.Problem.Prompt)
			}
			if c.Reward.Correct {
				correct++
				any = true
			}
		}
		if any {
			solved++
		}
	}
	r := res[0]
	if r.Accuracy != correct/float64(per*len(problems)) || r.PassAtN != solved/float64(len(problems)) || r.Samples != per {
		t.Fatalf("accuracy %v pass@%d %v, recounted %v and %v", r.Accuracy, r.Samples, r.PassAtN,
			correct/float64(per*len(problems)), solved/float64(len(problems)))
	}
	if r.CellAccuracy != cellsRight/cells || !(r.CellAccuracy > r.Accuracy) {
		t.Fatalf("cell accuracy %v, recounted %v (whole-puzzle accuracy %v)", r.CellAccuracy, cellsRight/cells, r.Accuracy)
	}
	if !(r.PassAtN > r.Accuracy) {
		t.Fatalf("at T = 1, pass@%d %v should exceed pass@1 %v on these puzzles", per, r.PassAtN, r.Accuracy)
	}

	greedy, gc, err := Evaluate(m, tk, problems, EvalOptions{Steps: []int{16}, Remasking: core.LowConfidence, Samples: 3})
	if err != nil {
		t.Fatal(err)
	}
	one, _, err := Evaluate(m, tk, problems, EvalOptions{Steps: []int{16}, Remasking: core.LowConfidence})
	if err != nil {
		t.Fatal(err)
	}
	if greedy[0].Accuracy != one[0].Accuracy || greedy[0].PassAtN != one[0].Accuracy {
		t.Fatalf("greedy with 3 samples: accuracy %v pass@3 %v, one sample %v", greedy[0].Accuracy, greedy[0].PassAtN, one[0].Accuracy)
	}
	for i := 0; i < len(gc[0]); i += 3 {
		if gc[0][i].Text != gc[0][i+1].Text || gc[0][i].Text != gc[0][i+2].Text {
			t.Fatalf("greedy samples of problem %d differ: %q %q %q", i/3, gc[0][i].Text, gc[0][i+1].Text, gc[0][i+2].Text)
		}
	}
}
