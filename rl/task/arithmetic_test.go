package task

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func checkArithmetic(t *testing.T, p Problem) {
	d := p.Data.(ArithmeticData)
	v, nums, err := ParseExpr(d.Question)
	if err != nil || len(nums) != 2 || !v.IsInt() || v.Num().String() != d.Answer || p.Answer != d.Answer || p.Prompt != d.Question+":" {
		t.Fatalf("problem %+v: value %v, %v", p, v, err)
	}
	if r := (arithmetic{}).Reward(p, p.Answer); r.Total != 4 || !r.Correct {
		t.Fatalf("%s: answer %s scores %+v", d.Question, p.Answer, r)
	}
}

func TestArithmeticSplits(t *testing.T) {
	test := arithmetic{}.Test()
	if len(test) != arithmeticTestSize || !reflect.DeepEqual(test, arithmetic{}.Test()) {
		t.Fatalf("%d test problems, or Test() differs between calls", len(test))
	}
	// Pinned, so that a change to the split, which would make runs incomparable, is noticed.
	if got, want := test[0].Prompt+test[0].Answer, "6-49:-43"; got != want {
		t.Errorf("first test problem %q, pinned %q", got, want)
	}
	inTest := map[string]bool{}
	for _, p := range test {
		checkArithmetic(t, p)
		if inTest[p.Prompt] {
			t.Fatalf("test question %s twice", p.Prompt)
		}
		inTest[p.Prompt] = true
	}
	rng := rand.New(rand.NewPCG(11, 12))
	negative := 0
	for range 3000 {
		p := arithmetic{}.SampleTrain(rng)
		if inTest[p.Prompt] {
			t.Fatalf("train question %s is in the test split", p.Prompt)
		}
		checkArithmetic(t, p)
		if strings.HasPrefix(p.Answer, "-") {
			negative++
		}
	}
	if negative == 0 {
		t.Error("no negative answers")
	}
	// The extremes of the distribution fit.
	for _, q := range []string{"999*999", "0-999", "999+999"} {
		v, _, _ := ParseExpr(q)
		a := arithmetic{}
		if len(q)+1 > a.PromptLen() || len(v.Num().String()) > a.AnswerLen() {
			t.Errorf("%s = %s does not fit", q, v.Num())
		}
	}
}

// TestCanonicalInt compares canonicalInt with strconv on every short string over the
// characters that matter.
func TestCanonicalInt(t *testing.T) {
	const chars = "-+0129 a"
	strs := []string{""}
	for range 4 {
		for _, s := range strs {
			for _, c := range chars {
				strs = append(strs, s+string(c))
			}
		}
	}
	for _, s := range strs {
		n, err := strconv.Atoi(s)
		if want := err == nil && strconv.Itoa(n) == s; canonicalInt(s) != want {
			t.Errorf("canonicalInt(%q) = %v", s, !want)
		}
	}
}

func TestArithmeticReward(t *testing.T) {
	for _, c := range []struct {
		question, answer, completion string
		format, correctness          float64
	}{
		{"37*12", "444", "444", 1, 3},
		{"37*12", "444", "445", 1, 0},
		{"37*12", "444", "-444", 1, 0},
		{"37*12", "444", "0444", 0, 0},
		{"37*12", "444", "+444", 0, 0},
		{"37*12", "444", "444 ", 0, 0},
		{"37*12", "444", "44_", 0, 0},
		{"37*12", "444", "", 0, 0},
		{"37*12", "444", "-", 0, 0},
		{"3-15", "-12", "-12", 1, 3},
		{"3-15", "-12", "12", 1, 0},
		{"3-3", "0", "0", 1, 3},
		{"3-3", "0", "-0", 0, 0}, // not how the value is written
		{"3-3", "0", "00", 0, 0},
	} {
		p := arithmeticProblem(ArithmeticData{c.question, c.answer})
		r := arithmetic{}.Reward(p, c.completion)
		if r.Parts[partFormat] != c.format || r.Parts[partCorrectness] != c.correctness ||
			r.Total != c.format+c.correctness || r.Correct != (c.correctness == 3) {
			t.Errorf("%s %q: %+v, want format %v, correctness %v", c.question, c.completion, r, c.format, c.correctness)
		}
	}
	if r := (arithmetic{}).Reward(Problem{Data: CountdownData{}}, "1"); r.Total != 0 {
		t.Errorf("foreign data: %+v", r)
	}
}

func TestArithmeticJSONL(t *testing.T) {
	in := `{"question":"37*12","answer":"444"}
{"question":"(1+2)*3"}
{"question":"6/3-5","answer":"-3"}`
	probs, err := arithmetic{}.ParseJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Problem{
		{Prompt: "37*12:", Answer: "444", Data: ArithmeticData{"37*12", "444"}},
		{Prompt: "(1+2)*3:", Answer: "9", Data: ArithmeticData{"(1+2)*3", "9"}},
		{Prompt: "6/3-5:", Answer: "-3", Data: ArithmeticData{"6/3-5", "-3"}},
	}
	if !reflect.DeepEqual(probs, want) {
		t.Errorf("got %+v\nwant %+v", probs, want)
	}
	for _, c := range []struct{ in, want string }{
		{`{"question":"37*12","answer":"445"}`, `answer "445": the question "37*12" is 444`},
		{`{"question":"3-3","answer":"-0"}`, `answer "-0": the question "3-3" is 0`},
		{`{"question":"7/2"}`, `question "7/2": value 7/2 is not an integer`},
		{`{"question":"1//2"}`, `question: expression "1//2": byte 2: expected a number or '(', found '/'`},
		{`{"question":"1/0"}`, `question: expression "1/0" divides by zero`},
		{`{"question":"1234567+1"}`, `prompt: "1234567+1:" is 10 tokens, over the limit of 8`},
		{`{"question":"3^2"}`, `prompt: "3^2:": encode: character '^' at byte offset 1`},
		{`{"answer":"1"}`, `question: missing`},
		{`{"question":"1+1","answer":2}`, `invalid JSON`},
	} {
		if _, err := (arithmetic{}).ParseJSONL(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), "arithmetic JSONL line 1: "+c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

// FuzzParseJSONLArithmetic checks that the loader never panics and that what it accepts
// earns the full reward with its answer.
func FuzzParseJSONLArithmetic(f *testing.F) {
	f.Add([]byte(`{"question":"37*12","answer":"444"}` + "\n" + `{"question":"(1+2)*3"}`))
	f.Add([]byte(`{"question":"7/2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoaded(t, arithmetic{}, data)
	})
}
