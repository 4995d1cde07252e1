package task

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func cdKey(nums []int, target int) string {
	s := slices.Clone(nums)
	slices.Sort(s)
	return fmt.Sprint(s, target)
}

// TestCountdownTable checks every problem's reference answer with the big.Rat parser and
// reports the distribution's size.
func TestCountdownTable(t *testing.T) {
	tab := countdownTable()
	longest, weights := "", 0
	for _, p := range tab.problems {
		v, nums, err := ParseExpr(p.answer)
		if err != nil || v.Cmp(big.NewRat(int64(p.target), 1)) != 0 || cdKey(nums, 0) != cdKey(p.nums[:], 0) {
			t.Fatalf("%v target %d: answer %q = %v, %v, %v", p.nums, p.target, p.answer, v, nums, err)
		}
		if len(p.answer) > len(longest) {
			longest = p.answer
		}
		weights += p.weight
	}
	t.Logf("%d distinct problems, total weight %d; longest answer %q (%d of %d tokens)",
		len(tab.problems), weights, longest, len(longest), countdown{}.AnswerLen())
	// Pinned: the package documentation quotes both.
	if len(tab.problems) != 16292 || len(longest) != 10 || len(longest) > (countdown{}).AnswerLen() {
		t.Errorf("%d problems, longest answer %q", len(tab.problems), longest)
	}
}

// refCountdown recomputes, for one multiset, each target's weight and reference answer from
// strings alone: the 192 fully parenthesized expressions evaluated by ParseExpr give the
// weights, and the best of every way to write a 3-number expression with at most one pair of
// parentheses that ParseExpr finds valid gives the answer.
func refCountdown(nums [3]int) (weights map[int]int, answers map[int]string) {
	weights, answers = map[int]int{}, map[int]string{}
	perms := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, o := range perms {
		a, b, c := nums[o[0]], nums[o[1]], nums[o[2]]
		for _, p := range "+-*/" {
			for _, q := range "+-*/" {
				for _, form := range []string{"(%d%c%d)%c%d", "%d%c(%d%c%d)", "%d%c%d%c%d"} {
					s := fmt.Sprintf(form, a, p, b, q, c)
					v, _, err := ParseExpr(s)
					if err != nil || !v.IsInt() || !v.Num().IsInt64() {
						continue
					}
					n := int(v.Num().Int64())
					if n < 1 || n > 100 {
						continue
					}
					if form != "%d%c%d%c%d" {
						weights[n]++
					}
					if old, ok := answers[n]; !ok || len(s) < len(old) || len(s) == len(old) && s < old {
						answers[n] = s
					}
				}
			}
		}
	}
	return weights, answers
}

func TestCountdownAgainstReference(t *testing.T) {
	byKey := map[string]cdProblem{}
	for _, p := range countdownTable().problems {
		byKey[cdKey(p.nums[:], p.target)] = p
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sets := [][3]int{{3, 7, 12}, {1, 1, 1}, {20, 20, 20}, {8, 17, 17}}
	for range 30 {
		s := [3]int{1 + rng.IntN(20), 1 + rng.IntN(20), 1 + rng.IntN(20)}
		slices.Sort(s[:])
		sets = append(sets, s)
	}
	for _, s := range sets {
		weights, answers := refCountdown(s)
		n := 0
		for _, p := range byKey {
			if p.nums == s {
				n++
			}
		}
		if n != len(weights) {
			t.Errorf("%v: %d targets, reference %d", s, n, len(weights))
		}
		for target, w := range weights {
			p, ok := byKey[cdKey(s[:], target)]
			if !ok || p.weight != w || p.answer != answers[target] {
				t.Errorf("%v target %d: weight %d answer %q, reference %d %q", s, target, p.weight, p.answer, w, answers[target])
			}
		}
	}
	// The 7-byte ways to 8 include 8/17*17, 8+17-17 and 17*8/17; the last sorts first.
	if p := byKey[cdKey([]int{8, 17, 17}, 8)]; p.answer != "17*8/17" {
		t.Errorf("8 from [8 17 17]: %q", p.answer)
	}
}

func TestCountdownSplits(t *testing.T) {
	cd := countdown{}
	test := cd.Test()
	if len(test) != countdownTestSize {
		t.Fatalf("%d test problems", len(test))
	}
	if !reflect.DeepEqual(test, cd.Test()) {
		t.Fatal("Test() differs between calls")
	}
	// Pinned, so that a change to the split, which would make runs incomparable, is noticed.
	var first []string
	for _, p := range test[:3] {
		first = append(first, p.Prompt+p.Answer)
	}
	if want := []string{"2 4 11=52:(11+2)*4", "6 10 20=80:10*6+20", "3 4 6=1:3+4-6"}; !slices.Equal(first, want) {
		t.Errorf("first test problems %q, pinned %q", first, want)
	}
	inTest := map[string]bool{}
	for _, p := range test {
		d := p.Data.(CountdownData)
		if inTest[cdKey(d.Numbers, d.Target)] {
			t.Fatalf("test problem %q twice", p.Prompt)
		}
		inTest[cdKey(d.Numbers, d.Target)] = true
		if !slices.IsSorted(d.Numbers) || p.Prompt != fmt.Sprintf("%d %d %d=%d:", d.Numbers[0], d.Numbers[1], d.Numbers[2], d.Target) {
			t.Fatalf("test prompt %q, data %v", p.Prompt, d)
		}
		if r := cd.Reward(p, p.Answer); r.Total != 4 || !r.Correct {
			t.Fatalf("%q: answer %q scores %+v", p.Prompt, p.Answer, r)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	unsorted := 0
	for i := range 3000 {
		p := cd.SampleTrain(rng)
		d := p.Data.(CountdownData)
		if inTest[cdKey(d.Numbers, d.Target)] {
			t.Fatalf("train sample %q is in the test split", p.Prompt)
		}
		if !slices.IsSorted(d.Numbers) {
			unsorted++
		}
		if i < 300 {
			if r := cd.Reward(p, p.Answer); r.Total != 4 || !r.Correct {
				t.Fatalf("%q: answer %q scores %+v", p.Prompt, p.Answer, r)
			}
		}
	}
	if unsorted == 0 {
		t.Error("train prompts never shuffle the numbers")
	}
}

func TestCountdownReward(t *testing.T) {
	p := Problem{Data: CountdownData{Numbers: []int{3, 7, 12}, Target: 33}}
	for _, c := range []struct {
		completion          string
		format, correctness float64
	}{
		{"7*3+12", 1, 3},
		{"12+3*7", 1, 3},
		{" 7 * 3 + 12", 1, 3},
		{"07*3+12", 1, 3},        // a number may have leading zeros
		{"7*3", 2.0 / 3, 0},      // parses, a sub-multiset
		{"(7+3)*12", 1, 0},       // the exact numbers, wrong value
		{"7*3+12+1", 1.0 / 3, 0}, // 1 is not given
		{"7*3+12+12", 1.0 / 3, 0},
		{"7*3+12=33", 0, 0},
		{"7*3+1_", 0, 0},
		{"((", 0, 0},
		{"", 0, 0},
	} {
		r := countdown{}.Reward(p, c.completion)
		if r.Parts[partFormat] != c.format || r.Parts[partCorrectness] != c.correctness ||
			r.Total != c.format+c.correctness || r.Correct != (c.correctness == 3) {
			t.Errorf("%q: %+v, want format %v, correctness %v", c.completion, r, c.format, c.correctness)
		}
	}
	// A division by zero parses, and the numbers are the given ones, but it has no value.
	z := Problem{Data: CountdownData{Numbers: []int{3, 7, 7}, Target: 1}}
	if r := (countdown{}).Reward(z, "3/(7-7)"); r.Total != 1 || r.Correct {
		t.Errorf("3/(7-7): %+v", r)
	}
	if r := (countdown{}).Reward(Problem{Data: SudokuData{}}, "7*3+12"); r.Total != 0 {
		t.Errorf("foreign data: %+v", r)
	}
}

func TestCountdownJSONL(t *testing.T) {
	in := `{"numbers":[25,7,3],"target":46}

{"numbers":[1,1,1],"target":99}
  {"target":0,"numbers":[0,5,5]}` + "\r\n"
	probs, err := countdown{}.ParseJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Problem{
		{Prompt: "25 7 3=46:", Answer: "25+3*7", Data: CountdownData{[]int{25, 7, 3}, 46}},
		{Prompt: "1 1 1=99:", Answer: "", Data: CountdownData{[]int{1, 1, 1}, 99}},
		{Prompt: "0 5 5=0:", Answer: "0*5*5", Data: CountdownData{[]int{0, 5, 5}, 0}},
	}
	if !reflect.DeepEqual(probs, want) {
		t.Errorf("got %+v\nwant %+v", probs, want)
	}
	for _, c := range []struct{ in, want string }{
		{`{"numbers":[1,2],"target":3}`, "line 1: numbers: want 3, got 2"},
		{`{"numbers":[1,-2,3],"target":3}`, "line 1: numbers: -2 is negative"},
		{`{"numbers":[1,2,3]}`, "line 1: target: missing"},
		{`{"numbers":[1,2,3],"target":-1}`, "line 1: target: -1 is negative"},
		{`{"numbers":[1,2,3],"target":6,"answer":"1+2+3"}`, `line 1: unknown field "answer"`},
		{`{"Numbers":[1,2,3],"target":6}`, `line 1: unknown field "Numbers"`},
		{`{"numbers":[1.5,2,3],"target":6}`, "line 1: invalid JSON"},
		{`{"numbers":[10000,10000,10000],"target":1}`, `line 1: prompt: "10000 10000 10000=1:" is 20 tokens, over the limit of 13`},
		{"\n[1,2,3]", "line 2: not a JSON object"},
		{`{"numbers":[1,2,3],"target":6} {}`, "line 1: invalid JSON: invalid character '{' after top-level value"},
	} {
		if _, err := (countdown{}).ParseJSONL(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), "countdown JSONL "+c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

// FuzzParseJSONLCountdown checks that the loader never panics and that what it accepts
// encodes, and that a reference answer it fills in earns the full reward.
func FuzzParseJSONLCountdown(f *testing.F) {
	f.Add([]byte(`{"numbers":[25,7,3],"target":46}` + "\n\n" + `{"numbers":[1,1,1],"target":99}`))
	f.Add([]byte(`{"numbers":[1,2],"target":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoaded(t, countdown{}, data)
	})
}
