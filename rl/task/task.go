// Package task defines the problems AGRPO trains on — Countdown, 4×4 Sudoku and multi-digit
// arithmetic in a compact format for the shipped tiny models, and GSM8K, Countdown and Sudoku
// as chats with the official AGRPO prompts for instruction models — each with a fixed test
// split, a train sampler that never returns a test problem, a reference answer for SFT, a
// reward and a JSONL loader, plus the character-level tokenizer the compact tasks share.
//
// # Tokens
//
// Token ids 0–19 are the characters of [Alphabet], "0123456789+-*/()=: .", in that order;
// [EOS] (20) ends a completion and pads; [Mask] (21) is the diffusion mask. A prompt is
// left-padded with EOS to the task's PromptLen and ends with ':'; the answer follows,
// right-padded with EOS to AnswerLen. A reward sees the completion up to its first EOS
// ([Answer]).
//
// # Countdown
//
// Reach the target with the three numbers, each used once, and + - * / (exact rational
// intermediates allowed, as in 8/17*17). Numbers are 1–20 and targets 1–100; each
// (multiset, target) is weighted by how many of the 192 expressions over the multiset (6
// orders × 16 operator pairs × the shapes (a∘b)∘c and a∘(b∘c)) reach it, giving 16,292
// problems. The test split is 500 of them drawn by weight without replacement from seed 0,
// numbers ascending; train draws the rest by weight, numbers shuffled.
//
// Prompt "3 7 12=33:" (numbers, '=', target, ':'; at most 13 tokens); answer a bare
// expression, "12+3*7" (at most 12 tokens; the longest reference answer is 10). The reference
// answer is the shortest valid expression with minimal parentheses, ties broken by byte
// order. Reward: format 1/3 if the completion parses ([ParseExpr]; a division by zero still
// parses), 1/3 more if its numbers are a sub-multiset of the given ones, 1/3 more if they are
// exactly the given multiset; correctness 3 (and Correct) if, in addition, its value is the
// target. JSONL: {"numbers":[25,7,3],"target":46}: three non-negative numbers and a
// non-negative target whose prompt fits; the answer is filled in when a solution exists, else
// left empty.
//
// # Sudoku
//
// Fill a 4×4 grid so each row, column and 2×2 box holds 1–4. A puzzle is one of the 288
// grids with cells emptied in random order while the solution stays unique, down to a random
// 4–10 clues. The test split is 500 distinct puzzles from seed 0; train puzzles are generated
// afresh, skipping test puzzles.
//
// Prompt: the 16 cells row by row, '.' for an empty cell, then ':' — "12..34....43..21:" (17
// tokens); answer the 16 digits, "1234341221434321" (16 tokens). Reward: format 0.25 if the
// completion is 16 characters, 0.25 if its sorted characters are "1111222233334444", 0.5 if it
// keeps every clue; correctness 3 × the fraction of empty cells it gets right, and Correct
// when it gets them all. Clues and cells are read from the completion padded on the left with
// '0' and cut to 16 characters (like Python's zfill). JSONL:
// {"puzzle":"12..34....43..21","solution":"1234341221434321"}, '.' or '0' for an empty cell;
// without "solution" the puzzle must have exactly one.
//
// # Arithmetic
//
// Compute a op b: op one of + - * and each operand of 1, 2 or 3 digits with equal chance
// (0–9, 10–99, 100–999). The test split is 500 distinct questions from seed 0; train skips
// them. Prompt "37*12:" (at most 8 tokens); answer the integer in canonical decimal, "444" or
// "-12" (at most 7 tokens; the longest is 998001). Reward: format 1 if the completion is a
// canonical decimal integer (an optional '-', no leading zeros, and not "-0"); correctness 3
// (and Correct) if it is the answer. JSONL: {"question":"37*12","answer":"444"}: any
// expression [ParseExpr] accepts with an integer value and a prompt that fits; without
// "answer" it is computed.
//
// # Chat tasks
//
// gsm8k, countdown_chat and sudoku_chat are conversations for an instruction model (Chat):
// Problem.System is the official AGRPO system prompt (probablyabot/agrpo, data.py), Prompt the
// user turn, and the model's chat template and tokenizer make the tokens (a Hugging Face
// folder's own; CheckModel refuses them for the character vocabulary). Their rewards are the
// official reward functions (rewards.py), each max 4, with the answer read from the first <answer>…</answer>
// (tags in either case, white space trimmed); the repository's testdata/agrpo-rewards.json
// holds those functions' outputs, run in Python, and the tests compare.
//
// gsm8k: JSONL in GSM8K's own format, {"question":"…","answer":"… #### 72"}; the text after
// the one "####" is the gold answer. Prompt: the question. Reference answer: the solution
// without its <<48/2=24>> calculator notes in <think> tags, then <answer>\boxed{72}</answer>.
// Reward: thinking_format 0.5 for a <think>…</think> pair, answer_format 0.5 for an
// <answer>…</answer> pair, correctness 3 when the final answer (the <answer> content, then the
// \boxed{} content in it) equals the gold answer as an exact rational ([ParseNumber]: integers,
// decimals, thousands separators, fractions, \frac, signs; the official code's math_verify
// reads more forms, such as expressions). The splits are the project's own example problems
// (rl/task/testdata/gsm8k-example.jsonl: 8 train, 4 test); bring GSM8K itself with -data.
//
// countdown_chat and sudoku_chat: the compact tasks' problems, splits and JSONL, asked as
// "Target: 33\nNumbers: [3, 7, 12]" and "Puzzle: 3014002020004130" (0 for an empty cell);
// reference answers "<answer>\n12+3*7 = 33\n</answer>" and "<answer>\n3214…\n</answer>".
// Countdown's format (−0.5 to 1) reads "expression = target" in the answer; its correctness
// needs exactly the given numbers and the expression's exact value (ParseExpr) to be the target.
// Sudoku's format needs a 16-character answer; its correctness counts the empty cells right in
// the final answer, zero-padded on the left to 16 (Python's zfill). The few-shot Sudoku system
// prompt is long: prompts are bounded by 2048 tokens (512 for the others; the test
// vocabulary of testdata/tokenizer needs up to 1,285 for Sudoku's), completions by 384, the
// released config's max_completion_length. Encoder turns them into a model's tokens.
//
// # JSONL
//
// One JSON object per line; blank lines are skipped; unknown fields (names are
// case-sensitive), lines over 64 KiB and invalid problems are errors naming the line, and
// loading stops after 10 bad lines.
package task

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Problem is one task instance.
type Problem struct {
	// System is the system turn of a chat task's conversation (Task.Chat); empty otherwise.
	System string
	// Prompt is the question text: for the compact tasks the whole prompt, ending with the
	// ':' separator, e.g. "3 7 12=33:"; for a chat task the user turn.
	Prompt string
	// Answer is the reference answer and SFT target, e.g. "12+3*7"; empty when a user
	// problem has none.
	Answer string
	// Data is what the reward needs: a CountdownData, SudokuData or ArithmeticData.
	Data any
}

// Reward scores one completion.
type Reward struct {
	// Total is the format credit plus the correctness credit: at most 1 + 3 = 4.
	Total float64
	// Parts holds each reward function's score under the names RewardNames lists.
	Parts map[string]float64
	// Correct reports whether the completion solves the problem (counts toward accuracy).
	Correct bool
	// CellsRight of Cells graded cells are right, for tasks graded cell by cell (Sudoku's empty
	// cells, the official evaluation's "cell accuracy"); both 0 for other tasks.
	CellsRight, Cells int
}

// Names of the reward parts every task reports.
const (
	partFormat      = "format"
	partCorrectness = "correctness"
)

// correctnessWeight scales correctness against the at-most-1 format credit.
const correctnessWeight = 3.0

func newReward(format, correctness float64, correct bool) Reward {
	return Reward{
		Total:   format + correctness,
		Parts:   map[string]float64{partFormat: format, partCorrectness: correctness},
		Correct: correct,
	}
}

// Task is one problem family. Implementations are safe for concurrent use.
type Task interface {
	// Name is the task's name for ByName: "countdown", "sudoku", "arithmetic", "gsm8k",
	// "countdown_chat" or "sudoku_chat".
	Name() string
	// Chat reports whether the task's prompts are conversations (a system turn and the user's
	// question) for an instruction model, which its chat template and tokenizer turn into
	// tokens; false for the compact formats of the 22-token character vocabulary.
	Chat() bool
	// PromptLen is the prompt length in tokens; prompts are left-padded with EOS to it.
	PromptLen() int
	// AnswerLen is the completion length in tokens; answers are right-padded with EOS to it.
	AnswerLen() int
	// RewardNames lists the keys of Reward.Parts in a fixed order.
	RewardNames() []string
	// SampleTrain draws a train problem, never one of Test's, using rng (not nil).
	SampleTrain(rng *rand.Rand) Problem
	// Test returns the fixed test split, the same on every call and every run, as a copy.
	Test() []Problem
	// Reward scores a completion (the model's text up to the first EOS; any string) for a
	// problem of this task. A problem whose Data is not this task's scores zero.
	Reward(p Problem, completion string) Reward
	// ParseJSONL reads user-supplied problems, one JSON object per line.
	ParseJSONL(r io.Reader) ([]Problem, error)
}

var tasks = []Task{countdown{}, sudoku{}, arithmetic{}, gsm8k{}, countdownChat, sudokuChat}

// ByName returns the task with that name.
func ByName(name string) (Task, error) {
	names := make([]string, len(tasks))
	for i, t := range tasks {
		if t.Name() == name {
			return t, nil
		}
		names[i] = t.Name()
	}
	return nil, fmt.Errorf("unknown task %q (known: %s)", name, strings.Join(names, ", "))
}

// EncodePrompt tokenizes p's prompt with the character vocabulary (CharEncoder.Prompt):
// left-padded with EOS to t.PromptLen(), keyMask 1 on the prompt's own tokens and 0 on the
// padding.
func EncodePrompt(t Task, p Problem) (ids, keyMask []int32, err error) {
	return CharEncoder.Prompt(t, p)
}

// EncodeAnswer tokenizes an answer with the character vocabulary, right-padded with EOS to
// t.AnswerLen() (CharEncoder.Answer).
func EncodeAnswer(t Task, answer string) ([]int32, error) {
	return CharEncoder.Answer(t, answer)
}

// encodeFit encodes s with the character vocabulary and checks that it takes at most n tokens.
func encodeFit(s string, n int) ([]int32, error) { return CharEncoder.fit(s, n) }

// ModelLimits is what a task checks of a model: its vocabulary's size and special ids, and its
// context length (the fields of core/model's Config of the same names; this package does not
// depend on the model).
type ModelLimits struct {
	VocabSize, MaskID, EOSID, MaxSeqLen int
}

// CheckModel reports why a model whose tokens e makes cannot run task t. With the character
// vocabulary (e.Tok is Chars): a chat task (it needs a model's own tokenizer), a vocabulary or
// special tokens other than the character tokenizer's. With a model's own tokenizer (whose
// agreement with the model its loader checks): a chat task and no chat template. With either, a
// context too short for t's prompt and answer.
func CheckModel(mc ModelLimits, e Encoder, t Task) error {
	_, chars := e.Tok.(Chars)
	switch {
	case e.Tok == nil:
		return fmt.Errorf("task %s: the model has no tokenizer", t.Name())
	case chars && t.Chat():
		return fmt.Errorf("task %s writes chat prompts for an instruction model with its own tokenizer; "+
			"models with the tasks' %d-token character vocabulary cannot run it", t.Name(), VocabSize)
	case chars && (mc.VocabSize != VocabSize || mc.MaskID != Mask || mc.EOSID != EOS):
		return fmt.Errorf("model vocabulary (size %d, mask %d, eos %d) is not the tasks' (size %d, mask %d, eos %d)",
			mc.VocabSize, mc.MaskID, mc.EOSID, VocabSize, Mask, EOS)
	case !chars && t.Chat() && e.Template == nil:
		return fmt.Errorf("task %s writes chat prompts and the model's tokenizer has no chat template", t.Name())
	case mc.MaxSeqLen < t.PromptLen()+t.AnswerLen():
		return fmt.Errorf("model max_sequence_length %d is shorter than %s's %d prompt + answer tokens",
			mc.MaxSeqLen, t.Name(), t.PromptLen()+t.AnswerLen())
	}
	return nil
}
