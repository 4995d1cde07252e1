package task

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
)

// ArithmeticData is what an arithmetic reward needs: the question and its value as a canonical
// decimal integer.
type ArithmeticData struct {
	Question string
	Answer   string
}

const arithmeticTestSize = 500

type arithmetic struct{}

func (arithmetic) Name() string          { return "arithmetic" }
func (arithmetic) Chat() bool            { return false }
func (arithmetic) PromptLen() int        { return 8 } // "999*999:"
func (arithmetic) AnswerLen() int        { return 7 } // the longest is 6: 999*999 = 998001
func (arithmetic) RewardNames() []string { return []string{partFormat, partCorrectness} }

// arithmeticOperand draws a digit count of 1–3 uniformly, then a number of that many digits,
// so short operands are as common as long ones.
func arithmeticOperand(rng *rand.Rand) int {
	switch rng.IntN(3) {
	case 0:
		return rng.IntN(10)
	case 1:
		return 10 + rng.IntN(90)
	}
	return 100 + rng.IntN(900)
}

func generateArithmetic(rng *rand.Rand) ArithmeticData {
	a, b := arithmeticOperand(rng), arithmeticOperand(rng)
	var op byte
	var v int
	switch rng.IntN(3) {
	case 0:
		op, v = '+', a+b
	case 1:
		op, v = '-', a-b
	default:
		op, v = '*', a*b
	}
	return ArithmeticData{Question: strconv.Itoa(a) + string(op) + strconv.Itoa(b), Answer: strconv.Itoa(v)}
}

// arithmeticTest is the test split and the set of its questions.
var arithmeticTest = sync.OnceValues(func() ([]ArithmeticData, map[string]bool) {
	rng := rand.New(rand.NewPCG(0, 0))
	var test []ArithmeticData
	seen := map[string]bool{}
	for len(test) < arithmeticTestSize {
		d := generateArithmetic(rng)
		if !seen[d.Question] {
			seen[d.Question] = true
			test = append(test, d)
		}
	}
	return test, seen
})

func arithmeticProblem(d ArithmeticData) Problem {
	return Problem{Prompt: d.Question + ":", Answer: d.Answer, Data: d}
}

// SampleTrain draws questions until one is not in the test split.
func (arithmetic) SampleTrain(rng *rand.Rand) Problem {
	_, test := arithmeticTest()
	for {
		if d := generateArithmetic(rng); !test[d.Question] {
			return arithmeticProblem(d)
		}
	}
}

// Test returns the test split.
func (arithmetic) Test() []Problem {
	test, _ := arithmeticTest()
	out := make([]Problem, len(test))
	for i, d := range test {
		out[i] = arithmeticProblem(d)
	}
	return out
}

// Reward gives format 1 for a canonical decimal integer and correctness 3 for the answer.
func (arithmetic) Reward(p Problem, completion string) Reward {
	d, ok := p.Data.(ArithmeticData)
	if !ok || !canonicalInt(completion) {
		return newReward(0, 0, false)
	}
	if completion != d.Answer {
		return newReward(1, 0, false)
	}
	return newReward(1, correctnessWeight, true)
}

// canonicalInt reports whether s is an integer as strconv.Itoa writes it: an optional '-',
// then digits without leading zeros; "-0" is not.
func canonicalInt(s string) bool {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || digits[0] == '0' && (len(digits) > 1 || len(s) > 1) {
		return false
	}
	for i := range len(digits) {
		if !isDigit(digits[i]) {
			return false
		}
	}
	return true
}

type arithmeticJSON struct {
	Question *string `json:"question"`
	Answer   *string `json:"answer"`
}

// ParseJSONL reads {"question":"37*12","answer":"444"} lines; the question may be any
// expression ParseExpr accepts with an integer value, and a missing answer is computed.
func (a arithmetic) ParseJSONL(r io.Reader) ([]Problem, error) {
	return parseJSONL(a.Name(), r, func(line []byte) (Problem, error) {
		var j arithmeticJSON
		if err := decodeObject(line, &j); err != nil {
			return Problem{}, err
		}
		if j.Question == nil {
			return Problem{}, errors.New("question: missing")
		}
		d := ArithmeticData{Question: *j.Question}
		if _, err := encodeFit(d.Question+":", a.PromptLen()); err != nil {
			return Problem{}, fmt.Errorf("prompt: %w", err)
		}
		v, _, err := ParseExpr(d.Question)
		if err != nil {
			return Problem{}, fmt.Errorf("question: %w", err)
		}
		if !v.IsInt() {
			return Problem{}, fmt.Errorf("question %q: value %s is not an integer", d.Question, v.RatString())
		}
		// A question of at most 7 bytes has a value of at most 7 characters, so it fits AnswerLen.
		d.Answer = v.Num().String()
		if j.Answer != nil && *j.Answer != d.Answer {
			return Problem{}, fmt.Errorf("answer %q: the question %q is %s", *j.Answer, d.Question, d.Answer)
		}
		return arithmeticProblem(d), nil
	})
}
