package task

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
)

// GSM8KSystemPrompt is the official AGRPO system prompt for math (probablyabot/agrpo, data.py's
// SYSTEM_PROMPT), sent as the system turn before the question.
const GSM8KSystemPrompt = `You will be given a math problem.
Think through the problem step by step, enclosing your reasoning process in <think> tags.
Provide your final answer in <answer> tags, with only the number or expression enclosed in \boxed{}, as follows:
<think>
...
</think>
<answer>
\boxed{...}
</answer>
`

// GSM8KData is what the GSM8K reward needs: the gold answer (the text after "####") and its
// value.
type GSM8KData struct {
	Question string
	Gold     string
	Value    *big.Rat
}

// Names of the GSM8K reward parts, the official reward functions'.
const (
	partThinkingFormat = "thinking_format"
	partAnswerFormat   = "answer_format"
)

// gsm8kExample is the project's own handful of problems in GSM8K's format: the first
// gsm8kTrainExamples are the train split, the rest the test split.
//
//go:embed testdata/gsm8k-example.jsonl
var gsm8kExample []byte

const gsm8kTrainExamples = 8

type gsm8k struct{}

func (gsm8k) Name() string { return "gsm8k" }
func (gsm8k) Chat() bool   { return true }

// PromptLen bounds the chat prompt (system prompt, question, template) in the model's tokens.
func (gsm8k) PromptLen() int { return 512 }

// AnswerLen is the official config's max_completion_length.
func (gsm8k) AnswerLen() int { return 384 }

func (gsm8k) RewardNames() []string {
	return []string{partThinkingFormat, partAnswerFormat, partCorrectness}
}

var gsm8kSplits = sync.OnceValues(func() (train, test []Problem) {
	probs, err := gsm8k{}.ParseJSONL(bytes.NewReader(gsm8kExample))
	if err != nil || len(probs) <= gsm8kTrainExamples {
		panic(fmt.Sprintf("the embedded gsm8k example file: %d problems, %v", len(probs), err))
	}
	return probs[:gsm8kTrainExamples], probs[gsm8kTrainExamples:]
})

// SampleTrain draws one of the example file's train problems.
func (gsm8k) SampleTrain(rng *rand.Rand) Problem {
	train, _ := gsm8kSplits()
	return train[rng.IntN(len(train))]
}

// Test returns the example file's test problems.
func (gsm8k) Test() []Problem {
	_, test := gsm8kSplits()
	out := make([]Problem, len(test))
	copy(out, test)
	return out
}

// Reward is the official AGRPO math reward: 0.5 for a <think>…</think> pair, 0.5 for an
// <answer>…</answer> pair, and 3 when the final answer (the <answer> content, then the
// \boxed{} content in it) is numerically equal to the gold answer (ParseNumber, exact).
func (gsm8k) Reward(p Problem, completion string) Reward {
	r := Reward{Parts: map[string]float64{partThinkingFormat: 0, partAnswerFormat: 0, partCorrectness: 0}}
	d, ok := p.Data.(GSM8KData)
	if !ok {
		return r
	}
	if _, ok := tagged(completion, "think"); ok {
		r.Parts[partThinkingFormat] = 0.5
	}
	if _, ok := tagged(completion, "answer"); ok {
		r.Parts[partAnswerFormat] = 0.5
	}
	if v, err := ParseNumber(finalAnswer(completion)); err == nil && v.Cmp(d.Value) == 0 {
		r.Parts[partCorrectness] = correctnessWeight
		r.Correct = true
	}
	r.Total = r.Parts[partThinkingFormat] + r.Parts[partAnswerFormat] + r.Parts[partCorrectness]
	return r
}

type gsm8kJSON struct {
	Question *string `json:"question"`
	Answer   *string `json:"answer"`
}

// dropCalculatorNotes removes GSM8K's calculator annotations, "<<48/2=24>>" (no '<' or '>'
// inside), which SFT targets leave out.
func dropCalculatorNotes(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "<<")
		if i < 0 {
			break
		}
		j := strings.IndexAny(s[i+2:], "<>")
		if j < 0 || !strings.HasPrefix(s[i+2+j:], ">>") {
			b.WriteString(s[:i+1]) // not a note: keep one '<' and look again after it
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// ParseJSONL reads GSM8K's own lines, {"question": "…", "answer": "… #### 72"}: the text after
// the one "####" is the gold answer and must be a number ParseNumber reads. The reference
// answer (the SFT target) is the official format: the solution, without its calculator
// annotations, in <think> tags, then \boxed{gold} in <answer> tags. The system prompt is
// GSM8KSystemPrompt.
func (g gsm8k) ParseJSONL(r io.Reader) ([]Problem, error) {
	return parseJSONL(g.Name(), r, func(line []byte) (Problem, error) {
		var j gsm8kJSON
		if err := decodeObject(line, &j); err != nil {
			return Problem{}, err
		}
		switch {
		case j.Question == nil:
			return Problem{}, errors.New("question: missing")
		case strings.TrimSpace(*j.Question) == "":
			return Problem{}, errors.New("question: empty")
		case j.Answer == nil:
			return Problem{}, errors.New("answer: missing")
		}
		parts := strings.Split(*j.Answer, "####")
		if len(parts) != 2 {
			return Problem{}, fmt.Errorf("answer: has %d \"####\" markers, want one before the final answer", len(parts)-1)
		}
		gold := strings.TrimSpace(parts[1])
		v, err := ParseNumber(gold)
		if err != nil {
			return Problem{}, fmt.Errorf("answer after \"####\": %w", err)
		}
		solution := strings.TrimSpace(dropCalculatorNotes(parts[0]))
		return Problem{
			System: GSM8KSystemPrompt,
			Prompt: *j.Question,
			Answer: "<think>\n" + solution + "\n</think>\n<answer>\n\\boxed{" + gold + "}\n</answer>",
			Data:   GSM8KData{Question: *j.Question, Gold: gold, Value: v},
		}, nil
	})
}
