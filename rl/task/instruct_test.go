package task

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestChatRewards compares the Countdown and Sudoku chat rewards with the official reward
// functions run in Python (testdata/agrpo-rewards.json).
func TestChatRewards(t *testing.T) {
	g := agrpoRewards(t)
	cd := Problem{Data: CountdownData{Numbers: g.Countdown.Numbers, Target: g.Countdown.Target}}
	puzzle := strings.ReplaceAll(g.Sudoku.Puzzle, "0", ".")
	sd := Problem{Data: SudokuData{Puzzle: puzzle, Solution: g.Sudoku.Solution}}
	for _, c := range []struct {
		task  Task
		p     Problem
		cases []officialCase
	}{{countdownChat, cd, g.Countdown.Cases}, {sudokuChat, sd, g.Sudoku.Cases}} {
		for _, oc := range c.cases {
			r := c.task.Reward(c.p, oc.Completion)
			if math.Abs(r.Parts[partFormat]-oc.Format) > 1e-12 || r.Parts[partCorrectness] != oc.Correctness ||
				r.Correct != (oc.Correctness == 3) || math.Abs(r.Total-oc.Format-oc.Correctness) > 1e-12 {
				t.Errorf("%s %q: %+v, want format %v correctness %v", c.task.Name(), oc.Completion, r, oc.Format, oc.Correctness)
			}
		}
	}
}

// TestChatProblems checks the chat variants' prompts, reference answers and splits against the
// compact tasks'.
func TestChatProblems(t *testing.T) {
	cd := countdownChat.Test()
	if p := cd[0]; p.System != CountdownSystemPrompt || !strings.HasPrefix(p.Prompt, "Target: ") || !strings.Contains(p.Prompt, "\nNumbers: [") {
		t.Errorf("countdown_chat problem %+v", p)
	}
	base := countdown{}.Test()
	for i, p := range cd {
		if !reflect.DeepEqual(p.Data, base[i].Data) {
			t.Fatalf("countdown_chat test problem %d is not countdown's", i)
		}
		if r := countdownChat.Reward(p, p.Answer); r.Total != 4 || !r.Correct {
			t.Fatalf("%q: reference answer %q scores %+v", p.Prompt, p.Answer, r)
		}
	}
	sd := sudokuChat.Test()
	for i, p := range sd {
		d := p.Data.(SudokuData)
		if p.System != SudokuSystemPrompt || p.Prompt != "Puzzle: "+strings.ReplaceAll(d.Puzzle, ".", "0") || !reflect.DeepEqual(d, sudoku{}.Test()[i].Data) {
			t.Fatalf("sudoku_chat problem %+v", p)
		}
		if r := sudokuChat.Reward(p, p.Answer); r.Total != 4 || !r.Correct {
			t.Fatalf("%q: reference answer %q scores %+v", p.Prompt, p.Answer, r)
		}
	}
	if got := countdownChatProblem(Problem{Data: CountdownData{Numbers: []int{17, 18, 5}, Target: 67}, Answer: "17*5-18"}); got.Prompt != "Target: 67\nNumbers: [17, 18, 5]" || got.Answer != "<answer>\n17*5-18 = 67\n</answer>" {
		t.Errorf("countdown_chat problem %+v", got)
	}
	probs, err := sudokuChat.ParseJSONL(strings.NewReader(`{"puzzle":"3014002020004130"}`))
	if err != nil || len(probs) != 1 || probs[0].Answer != "<answer>\n3214142323414132\n</answer>" {
		t.Errorf("sudoku_chat JSONL: %+v, %v", probs, err)
	}
	if _, err := countdownChat.ParseJSONL(strings.NewReader(`{"numbers":[1]}`)); err == nil || !strings.HasPrefix(err.Error(), "countdown_chat: countdown JSONL line 1: numbers: want 3") {
		t.Errorf("countdown_chat JSONL error: %v", err)
	}
	for _, task := range []Task{countdownChat, sudokuChat} {
		if !task.Chat() || task.AnswerLen() != chatCompletionLen || !reflect.DeepEqual(task.RewardNames(), []string{partFormat, partCorrectness}) {
			t.Errorf("%s: Chat %v AnswerLen %d RewardNames %v", task.Name(), task.Chat(), task.AnswerLen(), task.RewardNames())
		}
	}
}

func TestZfill(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "0000"}, {"12", "0012"}, {"-1", "-001"}, {"+12", "+012"}, {"12345", "12345"}, {"-", "-000"}, {"é", "000é"},
	} {
		if got := string(zfill([]rune(c.in), 4)); got != c.want {
			t.Errorf("zfill(%q, 4) = %q, want %q", c.in, got, c.want)
		}
	}
}
