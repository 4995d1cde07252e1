package task

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestByName(t *testing.T) {
	for _, name := range []string{"countdown", "sudoku", "arithmetic", "gsm8k", "countdown_chat", "sudoku_chat"} {
		task, err := ByName(name)
		if err != nil || task.Name() != name {
			t.Errorf("ByName(%q) = %v, %v", name, task, err)
		}
	}
	_, err := ByName("chess")
	if err == nil || !strings.Contains(err.Error(), `unknown task "chess" (known: countdown, sudoku, arithmetic, gsm8k, countdown_chat, sudoku_chat)`) {
		t.Errorf("ByName(chess) error %v", err)
	}
}

func TestEncodePrompt(t *testing.T) {
	const e = EOS
	ids, mask, err := EncodePrompt(countdown{}, Problem{Prompt: "3 7 12=33:"})
	// Ids by hand from the vocabulary: ' ' 18, '=' 16, ':' 17.
	wantIDs := []int32{e, e, e, 3, 18, 7, 18, 1, 2, 16, 3, 3, 17}
	wantMask := []int32{0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if err != nil || !slices.Equal(ids, wantIDs) || !slices.Equal(mask, wantMask) {
		t.Errorf("EncodePrompt = %v, %v, %v", ids, mask, err)
	}
	ids, err = EncodeAnswer(countdown{}, "12+3*7")
	if want := []int32{1, 2, 10, 3, 12, 7, e, e, e, e, e, e}; err != nil || !slices.Equal(ids, want) {
		t.Errorf("EncodeAnswer = %v, %v", ids, err)
	}
	promptErr := func(task Task, prompt string) error {
		_, _, err := EncodePrompt(task, Problem{Prompt: prompt})
		return err
	}
	answerErr := func(task Task, answer string) error {
		_, err := EncodeAnswer(task, answer)
		return err
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{promptErr(arithmetic{}, "999*9999:"), `arithmetic prompt: "999*9999:" is 9 tokens, over the limit of 8`},
		{promptErr(arithmetic{}, "3^2:"), `arithmetic prompt: "3^2:": encode: character '^' at byte offset 1 is not in the alphabet`},
		{promptErr(nil, "1:"), `encode prompt "1:": nil task`},
		{answerErr(sudoku{}, "12341234123412341"), `sudoku answer: "12341234123412341" is 17 tokens, over the limit of 16`},
		{answerErr(nil, "1"), `encode answer "1": nil task`},
	} {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
}

// TestSplitsEncode checks that every test problem and some train problems of every compact
// task fit the model's prompt and answer lengths.
func TestSplitsEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, task := range tasks {
		if task.Chat() {
			continue // no tokenizer here to encode its prompts with (TestCheckModelChat)
		}
		probs := task.Test()
		for range 300 {
			probs = append(probs, task.SampleTrain(rng))
		}
		for _, p := range probs {
			if _, _, err := EncodePrompt(task, p); err != nil {
				t.Fatal(err)
			}
			if _, err := EncodeAnswer(task, p.Answer); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestParseJSONLLines(t *testing.T) {
	bad := strings.Repeat(`{"question":"1+"}`+"\n", 15)
	_, err := arithmetic{}.ParseJSONL(strings.NewReader(bad))
	if err == nil || !strings.Contains(err.Error(), "arithmetic JSONL line 10: question:") ||
		strings.Contains(err.Error(), "line 11") || !strings.Contains(err.Error(), "stopped after 10 bad lines") {
		t.Errorf("15 bad lines: %v", err)
	}
	line := `{"question":"1+1"}`
	line += strings.Repeat(" ", maxLineBytes-len(line))
	if probs, err := (arithmetic{}).ParseJSONL(strings.NewReader(line + "\n" + line)); err != nil || len(probs) != 2 {
		t.Errorf("64 KiB lines: %d problems, %v", len(probs), err)
	}
	_, err = arithmetic{}.ParseJSONL(strings.NewReader(line + "\n" + line + " \n"))
	if err == nil || !strings.Contains(err.Error(), "arithmetic JSONL line 2: over 65536 bytes") {
		t.Errorf("long line: %v", err)
	}
	probs, err := arithmetic{}.ParseJSONL(strings.NewReader("\n  \n"))
	if err != nil || len(probs) != 0 {
		t.Errorf("blank input: %v, %v", probs, err)
	}
	if _, err := (sudoku{}).ParseJSONL(nil); err == nil {
		t.Error("nil reader accepted")
	}
}

// checkLoaded loads data as JSONL: whatever it accepts must encode, and a reference answer must
// earn the full reward.
func checkLoaded(t *testing.T, task Task, data []byte) {
	probs, err := task.ParseJSONL(bytes.NewReader(data))
	if err != nil {
		if !strings.Contains(err.Error(), task.Name()+" JSONL") {
			t.Fatalf("error does not name the task: %v", err)
		}
		return
	}
	for _, p := range probs {
		if _, _, err := EncodePrompt(task, p); err != nil {
			t.Fatal(err)
		}
		if p.Answer == "" {
			continue
		}
		if _, err := EncodeAnswer(task, p.Answer); err != nil {
			t.Fatal(err)
		}
		if r := task.Reward(p, p.Answer); r.Total != 4 || !r.Correct {
			t.Fatalf("%q: answer %q scores %+v", p.Prompt, p.Answer, r)
		}
	}
}

// FuzzReward scores arbitrary completions on a test problem of each task: the reward must stay
// within [0, 4] ([-0.5, 4] for countdown_chat, whose official format reward takes 0.5 off for a
// second '='), report RewardNames' parts summing to Total, and be Correct only with the full
// correctness credit.
func FuzzReward(f *testing.F) {
	for _, s := range []string{"12+3*7", "1234341221434321", "-12", "", "((", "0000", "1/0",
		"<answer>1=2=3</answer>", "<think>x</think><answer>\\boxed{72}</answer>"} {
		f.Add(s)
	}
	var probs []Problem
	for _, task := range tasks {
		probs = append(probs, task.Test()[0])
	}
	f.Fuzz(func(t *testing.T, completion string) {
		for i, task := range tasks {
			r := task.Reward(probs[i], completion)
			names := task.RewardNames()
			sum := 0.0
			for _, n := range names {
				sum += r.Parts[n]
			}
			if len(r.Parts) != len(names) || sum != r.Total || r.Total < minTotal(task) || r.Total > 4 ||
				r.Correct != (r.Parts[partCorrectness] == correctnessWeight) {
				t.Fatalf("%s %q: %+v", task.Name(), completion, r)
			}
		}
	})
}

func minTotal(t Task) float64 {
	if t.Name() == countdownChat.Name() {
		return -0.5
	}
	return 0
}
