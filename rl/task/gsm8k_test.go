package task

import (
	"bytes"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParseNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"72", "72"}, {" 72 ", "72"}, {"-5", "-5"}, {"+5", "5"}, {"−5", "-5"}, {"0", "0"}, {"007", "7"},
		{"1,234,567", "1234567"}, {"1,234.5", "2469/2"}, {"3.50", "7/2"}, {".5", "1/2"}, {"72.", "72"},
		{"7.2", "36/5"}, {"3/4", "3/4"}, {"-3/4", "-3/4"}, {"3/-4", "-3/4"}, {"1,000/8", "125"},
		{`\frac{3}{4}`, "3/4"}, {`\dfrac{10}{4}`, "5/2"}, {`\tfrac{-1}{2}`, "-1/2"}, {`-\frac{1}{2}`, "-1/2"},
		{`$18$`, "18"}, {`$18`, "18"}, {`\$18`, "18"}, {`-\$5`, "-5"}, {`\(42\)`, "42"}, {`\[ 42 \]`, "42"},
		{`1{,}000`, "1000"}, {`1\,000`, "1000"}, {`1\!000`, "1000"}, {"0.125", "1/8"},
		{"99999999999999999999999999999999999999.5", "199999999999999999999999999999999999999/2"},
	} {
		v, err := ParseNumber(c.in)
		want, _ := new(big.Rat).SetString(c.want)
		if err != nil || v.Cmp(want) != 0 {
			t.Errorf("ParseNumber(%q) = %v, %v; want %s", c.in, v, err, c.want)
		}
	}
	for _, in := range []string{"", "abc", "72 apples", "1e3", "1,23", "1234,567", ",123", "1.2.3", "1..", "-", ".",
		"3/0", `\frac{1}{0}`, `\frac{1}`, `\frac{a}{2}`, "1/2/3", "0x10", "--5", "$", "$$", "5%", "∞",
		strings.Repeat("9", 41)} {
		if v, err := ParseNumber(in); err == nil {
			t.Errorf("ParseNumber(%q) = %v, want an error", in, v)
		}
	}
}

// TestParseNumberDecimals checks random decimals, written with and without thousands
// separators, against strconv's float64 reading.
func TestParseNumberDecimals(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := rng.Int64N(1e12)
		frac := rng.IntN(1000)
		plain := strconv.FormatInt(n, 10) + "." + strconv.Itoa(frac)
		grouped := strconv.FormatInt(n, 10)
		for i := len(grouped) - 3; i > 0; i -= 3 {
			grouped = grouped[:i] + "," + grouped[i:]
		}
		grouped += "." + strconv.Itoa(frac)
		want, _ := strconv.ParseFloat(plain, 64)
		for _, s := range []string{plain, grouped, "-" + grouped} {
			v, err := ParseNumber(s)
			if err != nil {
				t.Fatalf("ParseNumber(%q): %v", s, err)
			}
			f, _ := v.Float64()
			if s[0] == '-' {
				f = -f
			}
			if f != want {
				t.Fatalf("ParseNumber(%q) = %v, strconv says %v", s, f, want)
			}
		}
	}
}

// agrpoRewards reads testdata/agrpo-rewards.json: the official reward functions' outputs on
// a corpus of completions, from tools/reference/agrpo_rewards.py (Python's re, the reference
// for the regular expressions the Go port re-implements).
func agrpoRewards(t *testing.T) (g struct {
	Math []struct {
		Completion     string
		ThinkingFormat float64 `json:"thinking_format"`
		AnswerFormat   float64 `json:"answer_format"`
		ParseAns       string  `json:"parse_ans"`
	}
	Countdown struct {
		Numbers []int
		Target  int
		Cases   []officialCase
	}
	Sudoku struct {
		Puzzle, Solution string
		Cases            []officialCase
	}
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "agrpo-rewards.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil || len(g.Math) < 20 || len(g.Countdown.Cases) < 20 || len(g.Sudoku.Cases) < 15 {
		t.Fatalf("%d, %d, %d cases, %v", len(g.Math), len(g.Countdown.Cases), len(g.Sudoku.Cases), err)
	}
	return g
}

type officialCase struct {
	Completion          string
	Format, Correctness float64
}

// TestGSM8KExtraction compares the format credits and the final-answer extraction with the
// official reward's.
func TestGSM8KExtraction(t *testing.T) {
	p := gsm8kProblem(t, "72")
	for _, c := range agrpoRewards(t).Math {
		r := gsm8k{}.Reward(p, c.Completion)
		if r.Parts[partThinkingFormat] != c.ThinkingFormat || r.Parts[partAnswerFormat] != c.AnswerFormat {
			t.Errorf("%q: format %v %v, want %v %v", c.Completion, r.Parts[partThinkingFormat], r.Parts[partAnswerFormat], c.ThinkingFormat, c.AnswerFormat)
		}
		if got := finalAnswer(c.Completion); got != c.ParseAns {
			t.Errorf("finalAnswer(%q) = %q, want %q", c.Completion, got, c.ParseAns)
		}
	}
}

func gsm8kProblem(t *testing.T, gold string) Problem {
	t.Helper()
	probs, err := gsm8k{}.ParseJSONL(strings.NewReader(`{"question":"q?","answer":"x\n#### ` + gold + `"}`))
	if err != nil || len(probs) != 1 {
		t.Fatal(err)
	}
	return probs[0]
}

func TestGSM8KReward(t *testing.T) {
	full := "<think>\n48/2 = 24\n</think>\n<answer>\n\\boxed{72}\n</answer>"
	for _, c := range []struct {
		gold, completion string
		think, answer    float64
		correct          bool
	}{
		{"72", full, 0.5, 0.5, true},
		{"72", "<answer>72.0</answer>", 0, 0.5, true},
		{"72", "<answer>\\boxed{\\frac{144}{2}}</answer>", 0, 0.5, true},
		{"72", "\\boxed{72}", 0, 0, true},
		{"72", "72", 0, 0, true},
		{"72", "<think>x</think><answer>71</answer>", 0.5, 0.5, false},
		{"72", "<answer>72 apples</answer>", 0, 0.5, false},
		{"72", "<think>72</think>", 0.5, 0, false},
		{"1,250", "<answer>\\boxed{1250}</answer>", 0, 0.5, true},
		{"1250", "<answer>\\boxed{1{,}250}</answer>", 0, 0.5, true},
		{"7.2", "<answer>\\boxed{\\frac{36}{5}}</answer>", 0, 0.5, true},
		{"-5", "<answer>\\boxed{-5}</answer>", 0, 0.5, true},
		{"-5", "<answer>\\boxed{5}</answer>", 0, 0.5, false},
		{"18", "<answer>\\$18</answer>", 0, 0.5, true},
	} {
		r := gsm8k{}.Reward(gsm8kProblem(t, c.gold), c.completion)
		want := c.think + c.answer
		if c.correct {
			want += 3
		}
		if r.Parts[partThinkingFormat] != c.think || r.Parts[partAnswerFormat] != c.answer || r.Correct != c.correct || r.Total != want {
			t.Errorf("gold %s, %q: %+v", c.gold, c.completion, r)
		}
	}
	if r := (gsm8k{}).Reward(Problem{Data: CountdownData{}}, full); r.Total != 0 || len(r.Parts) != 3 {
		t.Errorf("another task's problem scores %+v", r)
	}
}

func TestGSM8KJSONL(t *testing.T) {
	in := `{"question": "Natalia sold 48 clips in April and half as many in May. How many in all?", "answer": "In May she sold 48/2 = <<48/2=24>>24 clips.\nIn all 48+24 = <<48+24=72>>72.\n#### 72"}`
	probs, err := gsm8k{}.ParseJSONL(strings.NewReader(in))
	if err != nil || len(probs) != 1 {
		t.Fatal(err)
	}
	p := probs[0]
	wantAnswer := "<think>\nIn May she sold 48/2 = 24 clips.\nIn all 48+24 = 72.\n</think>\n<answer>\n\\boxed{72}\n</answer>"
	d := p.Data.(GSM8KData)
	if p.System != GSM8KSystemPrompt || !strings.HasPrefix(p.Prompt, "Natalia") || p.Answer != wantAnswer || d.Gold != "72" || d.Value.Cmp(big.NewRat(72, 1)) != 0 {
		t.Errorf("problem %+v", p)
	}
	for _, c := range []struct{ line, want string }{
		{`{"question":"q"}`, "line 1: answer: missing"},
		{`{"answer":"#### 1"}`, "line 1: question: missing"},
		{`{"question":" ","answer":"#### 1"}`, "line 1: question: empty"},
		{`{"question":"q","answer":"no marker 5"}`, `line 1: answer: has 0 "####" markers`},
		{`{"question":"q","answer":"#### 1 #### 2"}`, `line 1: answer: has 2 "####" markers`},
		{`{"question":"q","answer":"x #### seventy"}`, `line 1: answer after "####": number "seventy"`},
		{`{"question":"q","answer":"x #### 1","id":3}`, `line 1: unknown field "id"`},
		{`["q"]`, "line 1: not a JSON object"},
	} {
		_, err := gsm8k{}.ParseJSONL(strings.NewReader(c.line))
		if err == nil || !strings.Contains(err.Error(), "gsm8k JSONL "+c.want) {
			t.Errorf("%s: %v, want %q", c.line, err, c.want)
		}
	}
}

// TestGSM8KSplits: the example file's problems load, their reference answers earn the full
// reward, and train and test are disjoint.
func TestGSM8KSplits(t *testing.T) {
	train, test := gsm8kSplits()
	if len(train) != gsm8kTrainExamples || len(test) < 4 {
		t.Fatalf("%d train, %d test", len(train), len(test))
	}
	inTest := map[string]bool{}
	for _, p := range test {
		inTest[p.Prompt] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if p := (gsm8k{}).SampleTrain(rng); inTest[p.Prompt] {
			t.Fatalf("train problem %q is in the test split", p.Prompt)
		}
	}
	for _, p := range append(train, test...) {
		if r := (gsm8k{}).Reward(p, p.Answer); r.Total != 4 || !r.Correct {
			t.Errorf("%q: reference answer %q scores %+v", p.Prompt, p.Answer, r)
		}
	}
	if g := (gsm8k{}); !g.Chat() || g.AnswerLen() != 384 {
		t.Errorf("Chat() %v, AnswerLen() %d", g.Chat(), g.AnswerLen())
	}
}

func TestCheckModelChat(t *testing.T) {
	mc := ModelLimits{VocabSize: VocabSize, MaskID: Mask, EOSID: EOS, MaxSeqLen: 4096}
	err := CheckModel(mc, CharEncoder, gsm8k{})
	if err == nil || !strings.Contains(err.Error(), "task gsm8k writes chat prompts for an instruction model with its own tokenizer") {
		t.Errorf("CheckModel(gsm8k) = %v", err)
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"72", "-1,234.5", `\frac{3}{4}`, `$\$1{,}000$`, "3/0", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseNumber(s)
		if err != nil {
			return
		}
		// The value written back as a fraction reads the same.
		w, err := ParseNumber(v.RatString())
		if err != nil || w.Cmp(v) != 0 {
			t.Fatalf("ParseNumber(%q) = %s, which reads back as %v, %v", s, v.RatString(), w, err)
		}
	})
}

func FuzzParseJSONLGSM8K(f *testing.F) {
	f.Add([]byte(`{"question":"q","answer":"x <<1+1=2>> #### 2"}`))
	f.Add(gsm8kExample)
	f.Fuzz(func(t *testing.T, data []byte) {
		probs, err := gsm8k{}.ParseJSONL(bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), "gsm8k JSONL") {
				t.Fatalf("error does not name the task: %v", err)
			}
			return
		}
		for _, p := range probs {
			if r := (gsm8k{}).Reward(p, p.Answer); r.Total != 4 || !r.Correct {
				t.Fatalf("%q: reference answer %q scores %+v", p.Prompt, p.Answer, r)
			}
		}
	})
}

// TestDropCalculatorNotes compares with the regular expression <<[^<>]*>> removed everywhere.
func TestDropCalculatorNotes(t *testing.T) {
	re := regexp.MustCompile(`<<[^<>]*>>`)
	for _, s := range []string{"", "a <<1+1=2>>2 b", "<<>>", "<<<1>>", "<<a<b>>c>>", "x << y", "<<1>><<2>>3", "a>>b<<c", "<<<<1=1>>>>", "<<1>", "<<é=1>>é"} {
		if got, want := dropCalculatorNotes(s), re.ReplaceAllString(s, ""); got != want {
			t.Errorf("dropCalculatorNotes(%q) = %q, want %q", s, got, want)
		}
	}
}
