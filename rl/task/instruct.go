package task

import (
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The official AGRPO system prompts for Countdown and Sudoku (probablyabot/agrpo, data.py's
// COUNTDOWN_SYSTEM_PROMPT and SUDOKU_SYSTEM_PROMPT; the Sudoku examples are SPG's).
const (
	CountdownSystemPrompt = `You will be given a target number and a list of numbers. Create a mathematical expression using each number exactly once and the operations +, -, *, / (with parentheses allowed) to reach the target.
Think through different combinations systematically, exploring which operations might work. Enclose your reasoning process in <think> tags.
Format your response as:
<think>
reasoning process here
</think>
<answer>
final expression = target
</answer>
For example, if the target is 67 and the numbers are [17, 18, 5], a valid answer is:
<answer>
17 * 5 - 18 = 67
</answer>
`
	SudokuSystemPrompt = `You will be given a 4x4 Sudoku puzzle, provided as a 16-character string from left to right, top to bottom, with 0s representing empty cells.
Fill in the empty cells with the correct digits 1-4 such that each row, column, and 2x2 subgrid contains each digit exactly once.
Think through the puzzle step by step, enclosing your reasoning process in <think> tags.
Your final answer should be a complete 16-character string with only the digits 1-4 representing the filled-in grid.
Format your response as:
<think>
reasoning process here
</think>
<answer>
[16-character string with no spaces]
</answer>

Puzzle: 3014002020004130

<think>
Interpret puzzle as 4 rows of 4:
R1: 3 0 1 4
R2: 0 0 2 0
R3: 2 0 0 0
R4: 4 1 3 0

Fill easy singles:
R1 missing 2 → R1C2=2.
R4 missing 2 → R4C4=2.
Box D (R3-4,C3-4) then needs {1,4}; column4 can only accept 1 → R3C4=1, R3C3=4.
R3 now missing 3 → R3C2=3.
Column1 missing 1 → R2C1=1.
Column2 missing 4 → R2C2=4.
Last cell R2C4=3.

Final grid:
R1: 3 2 1 4
R2: 1 4 2 3
R3: 2 3 4 1
R4: 4 1 3 2
</think>
<answer>
3214142323414132
</answer>

Puzzle: 0000100420013142

<think>
Interpret puzzle as 4 rows of 4:
R1: 0 0 0 0
R2: 1 0 0 4
R3: 2 0 0 1
R4: 3 1 4 2

Fill easy singles:
Col1 missing 4 → R1C1=4.
Col4 missing 3 → R1C4=3.
Box A (R1-2,C1-2) missing {2,3} and R1 now needs {1,2} → R1C2=2, R2C2=3.
R1C3=1.
R2 now missing 2 → R2C3=2.
Col2 missing 4 → R3C2=4, then R3C3=3.

Final grid:
R1: 4 2 1 3
R2: 1 3 2 4
R3: 2 4 3 1
R4: 3 1 4 2
</think>
<answer>
4213132424313142
</answer>

Puzzle: 2001403002001420

<think>
Interpret puzzle as 4 rows of 4:
R1: 2 0 0 1
R2: 4 0 3 0
R3: 0 2 0 0
R4: 1 4 2 0

Fill easy singles:
R1 missing {3,4}; Col2 can't be 1 so R1C2=3 → R1C3=4.
R4 missing 3 → R4C4=3.
Col4 missing {2,4}; R2 must take 2 → R2C4=2 → R2C2=1.
Col1 missing 3 → R3C1=3.
Col3 missing 1 → R3C3=1 → R3C4=4.

Final grid:
R1: 2 3 4 1
R2: 4 1 3 2
R3: 3 2 1 4
R4: 1 4 2 3
</think>
<answer>
2341413232141423
</answer>
`
)

// chatCompletionLen is the released AGRPO config's max_completion_length (its GSM8K run; the
// per-task settings are unpublished), the completion budget of every chat task.
const chatCompletionLen = 384

// instruct wraps a compact task's problems (the same splits, generators and JSONL) in the
// official AGRPO chat prompts and rewards for instruction models.
type instruct struct {
	base      Task
	promptLen int
	convert   func(Problem) Problem
	reward    func(p Problem, completion string) Reward
}

// The chat variants of Countdown and Sudoku.
var (
	countdownChat = instruct{base: countdown{}, promptLen: 512, convert: countdownChatProblem, reward: countdownChatReward}
	sudokuChat    = instruct{base: sudoku{}, promptLen: 2048, convert: sudokuChatProblem, reward: sudokuChatReward}
)

func (t instruct) Name() string          { return t.base.Name() + "_chat" }
func (instruct) Chat() bool              { return true }
func (t instruct) PromptLen() int        { return t.promptLen }
func (instruct) AnswerLen() int          { return chatCompletionLen }
func (t instruct) RewardNames() []string { return t.base.RewardNames() }

// SampleTrain draws the compact task's train problem, as a chat.
func (t instruct) SampleTrain(rng *rand.Rand) Problem { return t.convert(t.base.SampleTrain(rng)) }

// Test returns the compact task's test split, as chats.
func (t instruct) Test() []Problem {
	test := t.base.Test()
	for i, p := range test {
		test[i] = t.convert(p)
	}
	return test
}

// Reward scores a completion with the official reward functions.
func (t instruct) Reward(p Problem, completion string) Reward { return t.reward(p, completion) }

// ParseJSONL reads the compact task's JSONL format.
func (t instruct) ParseJSONL(r io.Reader) ([]Problem, error) {
	probs, err := t.base.ParseJSONL(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name(), err)
	}
	for i, p := range probs {
		probs[i] = t.convert(p)
	}
	return probs, nil
}

// countdownChatProblem asks as the official code does, "Target: 33\nNumbers: [3, 7, 12]"; the
// reference answer is "<answer>\n12+3*7 = 33\n</answer>" (none when the compact task has none).
func countdownChatProblem(p Problem) Problem {
	d := p.Data.(CountdownData)
	nums := make([]string, len(d.Numbers))
	for i, n := range d.Numbers {
		nums[i] = strconv.Itoa(n)
	}
	q := Problem{System: CountdownSystemPrompt, Data: d,
		Prompt: fmt.Sprintf("Target: %d\nNumbers: [%s]", d.Target, strings.Join(nums, ", "))}
	if p.Answer != "" {
		q.Answer = fmt.Sprintf("<answer>\n%s = %d\n</answer>", p.Answer, d.Target)
	}
	return q
}

// sudokuChatProblem asks "Puzzle: 3014002020004130" (0 for an empty cell), and the reference
// answer is "<answer>\n3214142323414132\n</answer>".
func sudokuChatProblem(p Problem) Problem {
	d := p.Data.(SudokuData)
	return Problem{System: SudokuSystemPrompt, Data: d,
		Prompt: "Puzzle: " + strings.ReplaceAll(d.Puzzle, ".", "0"),
		Answer: "<answer>\n" + d.Solution + "\n</answer>"}
}

// countdownChatReward is the official countdown_format_reward and countdown_correctness_reward.
// Format, from the <answer> content when it has an '=': −0.5 for more than one '=', then 1/3
// each for a right side that is the target, a left side of only digits, white space,
// + - * / and parentheses, and the left side's numbers being exactly the given multiset (so
// −0.5 to 1). Correctness 3 when, in addition to that multiset, the left side's value is the
// target. Digits are ASCII here (Python's \d also takes other scripts' digits), and the value
// is ParseExpr's, exact (the official code's math_verify also reads forms such as "\times").
func countdownChatReward(p Problem, completion string) Reward {
	d, ok := p.Data.(CountdownData)
	eq, tagged := tagged(completion, "answer")
	if !ok || !tagged || !strings.Contains(eq, "=") {
		return newReward(0, 0, false)
	}
	sides := strings.Split(eq, "=")
	format := 0.0
	if len(sides) > 2 {
		format -= 0.5
	}
	lhs := strings.TrimFunc(sides[0], pySpace)
	rhs := strings.TrimFunc(sides[len(sides)-1], pySpace)
	if n, ok := asciiInt(rhs); ok && n == d.Target {
		format += 1.0 / 3
	}
	if lhs != "" && strings.IndexFunc(lhs, func(r rune) bool { return !strings.ContainsRune("0123456789+-*/()", r) && !pySpace(r) }) < 0 {
		format += 1.0 / 3
	}
	used := numbersIn(lhs)
	_, exact := compareMultisets(used, d.Numbers)
	if exact {
		format += 1.0 / 3
	}
	expr := strings.Map(func(r rune) rune {
		if pySpace(r) {
			return ' '
		}
		return r
	}, lhs)
	v, _, err := ParseExpr(expr)
	correct := exact && err == nil && v.Cmp(new(big.Rat).SetInt64(int64(d.Target))) == 0
	if correct {
		return newReward(format, correctnessWeight, true)
	}
	return newReward(format, 0, false)
}

// asciiInt reads s, non-empty ASCII digits only, as Python's int() does (leading zeros
// allowed); false also when it is beyond int.
func asciiInt(s string) (int, bool) {
	if s == "" || !allDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// numbersIn lists the runs of ASCII digits in s as numbers (re.findall(r"\d+")); a run beyond
// int becomes -1, which no given number equals.
func numbersIn(s string) []int {
	var nums []int
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n, err := strconv.Atoi(s[i:j])
		if err != nil {
			n = -1
		}
		nums = append(nums, n)
		i = j
	}
	return nums
}

// sudokuChatReward is the official sudoku_format_reward and sudoku_correctness_reward. Format,
// from the <answer> content when it is 16 characters: 0.25, 0.25 more when its sorted
// characters are "1111222233334444", 0.5 more when it keeps every clue. Correctness 3 × the
// fraction of empty cells right, reading the final answer (the <answer> content, then its
// \boxed{} content) left-padded with '0' to 16 characters by Python's zfill (after a leading
// sign) and cut to 16; Correct when every empty cell is right.
func sudokuChatReward(p Problem, completion string) Reward {
	d, ok := p.Data.(SudokuData)
	if !ok || len(d.Puzzle) != 16 || len(d.Solution) != 16 {
		return newReward(0, 0, false)
	}
	format := 0.0
	if a, ok := tagged(completion, "answer"); ok {
		if g := []rune(a); len(g) == 16 {
			format += 0.25
			sorted := slices.Clone(g)
			slices.Sort(sorted)
			if string(sorted) == sudokuSorted {
				format += 0.25
			}
			keeps := true
			for i := range 16 {
				keeps = keeps && (d.Puzzle[i] == '.' || rune(d.Puzzle[i]) == g[i])
			}
			if keeps {
				format += 0.5
			}
		}
	}
	cells := zfill([]rune(finalAnswer(completion)), 16)
	empty, right := 0, 0
	for i := range 16 {
		if d.Puzzle[i] == '.' {
			empty++
			if cells[i] == rune(d.Solution[i]) {
				right++
			}
		}
	}
	if empty == 0 {
		return newReward(format, 0, false)
	}
	rw := newReward(format, correctnessWeight*float64(right)/float64(empty), right == empty)
	rw.CellsRight, rw.Cells = right, empty
	return rw
}

// zfill is Python's str.zfill: s left-padded with '0' to width characters, the zeros after a
// leading '+' or '-'.
func zfill(s []rune, width int) []rune {
	if len(s) >= width {
		return s
	}
	pad := []rune(strings.Repeat("0", width-len(s)))
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		return slices.Concat(s[:1], pad, s[1:])
	}
	return slices.Concat(pad, s)
}
