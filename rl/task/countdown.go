package task

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// CountdownData is what a Countdown reward needs: the numbers, in prompt order, and the target.
type CountdownData struct {
	Numbers []int
	Target  int
}

// Countdown's problem distribution and split.
const (
	countdownMaxNumber = 20
	countdownMaxTarget = 100
	countdownTestSize  = 500
)

type countdown struct{}

func (countdown) Name() string          { return "countdown" }
func (countdown) Chat() bool            { return false }
func (countdown) PromptLen() int        { return 13 } // "20 20 20=100:"
func (countdown) AnswerLen() int        { return 12 }
func (countdown) RewardNames() []string { return []string{partFormat, partCorrectness} }

// cdProblem is one distinct problem of the distribution.
type cdProblem struct {
	nums   [3]int // ascending
	target int
	weight int // how many of the 192 expressions over nums reach target
	answer string
}

// cdTable is the enumerated distribution, split into test and weighted train problems.
type cdTable struct {
	problems []cdProblem
	test     []int // indices into problems, in draw order
	train    []int // indices into problems not in test
	trainCum []int // running sum of train weights, for weighted sampling
}

var countdownTable = sync.OnceValue(buildCountdown)

func buildCountdown() *cdTable {
	t := &cdTable{}
	for a := 1; a <= countdownMaxNumber; a++ {
		for b := a; b <= countdownMaxNumber; b++ {
			for c := b; c <= countdownMaxNumber; c++ {
				var weight [countdownMaxTarget + 1]int
				var best [countdownMaxTarget + 1]string
				nums := [3]int{a, b, c}
				forEachCountdownExpr(nums, func(e cdExpr, v rat) {
					if v.d != 1 || v.n < 1 || v.n > countdownMaxTarget {
						return
					}
					weight[v.n]++
					if s := e.String(); weight[v.n] == 1 || better(s, best[v.n]) {
						best[v.n] = s
					}
				})
				for target, w := range weight {
					if w > 0 {
						t.problems = append(t.problems, cdProblem{nums, target, w, best[target]})
					}
				}
			}
		}
	}
	// The test split: countdownTestSize problems drawn by weight without replacement.
	rng := rand.New(rand.NewPCG(0, 0))
	weights := make([]int, len(t.problems))
	total := 0
	for i, p := range t.problems {
		weights[i] = p.weight
		total += p.weight
	}
	for range countdownTestSize {
		r := rng.IntN(total)
		i := 0
		for ; r >= weights[i]; i++ {
			r -= weights[i]
		}
		t.test = append(t.test, i)
		total -= weights[i]
		weights[i] = 0
	}
	sum := 0
	for i, w := range weights {
		if w > 0 {
			sum += w
			t.train = append(t.train, i)
			t.trainCum = append(t.trainCum, sum)
		}
	}
	return t
}

// better reports whether answer a is preferred to b: shorter, then smaller in byte order.
func better(a, b string) bool {
	return len(a) < len(b) || len(a) == len(b) && a < b
}

func (p cdProblem) problem(nums []int) Problem {
	return Problem{
		Prompt: fmt.Sprintf("%d %d %d=%d:", nums[0], nums[1], nums[2], p.target),
		Answer: p.answer,
		Data:   CountdownData{Numbers: nums, Target: p.target},
	}
}

// SampleTrain draws a train problem by weight and lists its numbers in random order.
func (countdown) SampleTrain(rng *rand.Rand) Problem {
	t := countdownTable()
	r := rng.IntN(t.trainCum[len(t.trainCum)-1])
	p := t.problems[t.train[sort.SearchInts(t.trainCum, r+1)]]
	nums := p.nums[:]
	rng.Shuffle(len(nums), func(i, j int) { nums[i], nums[j] = nums[j], nums[i] })
	return p.problem(nums)
}

// Test returns the test split, its numbers in ascending order.
func (countdown) Test() []Problem {
	t := countdownTable()
	out := make([]Problem, len(t.test))
	for i, j := range t.test {
		p := t.problems[j]
		out[i] = p.problem(slices.Clone(p.nums[:]))
	}
	return out
}

// Reward gives format thirds for parsing, for a sub-multiset of the numbers and for the exact
// multiset, and correctness for the exact multiset reaching the target.
func (countdown) Reward(p Problem, completion string) Reward {
	d, ok := p.Data.(CountdownData)
	if !ok {
		return newReward(0, 0, false)
	}
	v, used, err := parseExpr(completion)
	if err != nil {
		return newReward(0, 0, false)
	}
	sub, exact := compareMultisets(used, d.Numbers)
	credits := 1
	if sub {
		credits++
	}
	if exact {
		credits++
	}
	correct := exact && v != nil && v.Cmp(new(big.Rat).SetInt64(int64(d.Target))) == 0
	correctness := 0.0
	if correct {
		correctness = correctnessWeight
	}
	return newReward(float64(credits)/3, correctness, correct)
}

// compareMultisets reports whether used is a sub-multiset of given, and whether it is all of it.
func compareMultisets(used, given []int) (sub, exact bool) {
	left := map[int]int{}
	for _, n := range given {
		left[n]++
	}
	for _, n := range used {
		if left[n] == 0 {
			return false, false
		}
		left[n]--
	}
	return true, len(used) == len(given)
}

type countdownJSON struct {
	Numbers []int `json:"numbers"`
	Target  *int  `json:"target"`
}

// ParseJSONL reads {"numbers":[25,7,3],"target":46} lines; Answer is the reference answer when
// a solution exists, else empty.
func (c countdown) ParseJSONL(r io.Reader) ([]Problem, error) {
	return parseJSONL(c.Name(), r, func(line []byte) (Problem, error) {
		var j countdownJSON
		if err := decodeObject(line, &j); err != nil {
			return Problem{}, err
		}
		if len(j.Numbers) != 3 {
			return Problem{}, fmt.Errorf("numbers: want 3, got %d", len(j.Numbers))
		}
		for _, n := range j.Numbers {
			if n < 0 {
				return Problem{}, fmt.Errorf("numbers: %d is negative", n)
			}
		}
		if j.Target == nil {
			return Problem{}, errors.New("target: missing")
		}
		if *j.Target < 0 {
			return Problem{}, fmt.Errorf("target: %d is negative", *j.Target)
		}
		// The prompt must fit before solving: that bounds the numbers to 5 digits, which keeps
		// the solver's int64 rationals from overflowing.
		p := cdProblem{nums: [3]int(j.Numbers), target: *j.Target}
		prob := p.problem(j.Numbers)
		if _, err := encodeFit(prob.Prompt, c.PromptLen()); err != nil {
			return Problem{}, fmt.Errorf("prompt: %w", err)
		}
		want := rat{int64(p.target), 1}
		forEachCountdownExpr(p.nums, func(e cdExpr, v rat) {
			if v == want {
				if s := e.String(); prob.Answer == "" || better(s, prob.Answer) {
					prob.Answer = s
				}
			}
		})
		return prob, nil
	})
}

// cdExpr is one of the 192 expression trees over three numbers: (x op1 y) op2 z, or with
// right set, x op1 (y op2 z).
type cdExpr struct {
	x, y, z  int
	op1, op2 byte
	right    bool
}

var (
	cdOrders = [6][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	cdOps    = [4]byte{'+', '-', '*', '/'}
)

// forEachCountdownExpr calls fn with each of the 192 expressions over nums that has a value
// (no division by zero), and that value.
func forEachCountdownExpr(nums [3]int, fn func(cdExpr, rat)) {
	for _, o := range cdOrders {
		x, y, z := nums[o[0]], nums[o[1]], nums[o[2]]
		rx, ry, rz := rat{int64(x), 1}, rat{int64(y), 1}, rat{int64(z), 1}
		for _, op1 := range cdOps {
			for _, op2 := range cdOps {
				if l, ok := rx.apply(op1, ry); ok {
					if v, ok := l.apply(op2, rz); ok {
						fn(cdExpr{x, y, z, op1, op2, false}, v)
					}
				}
				if r, ok := ry.apply(op2, rz); ok {
					if v, ok := rx.apply(op1, r); ok {
						fn(cdExpr{x, y, z, op1, op2, true}, v)
					}
				}
			}
		}
	}
}

// String prints the expression with only the parentheses its value needs.
func (e cdExpr) String() string {
	x, y, z := strconv.Itoa(e.x), strconv.Itoa(e.y), strconv.Itoa(e.z)
	if !e.right {
		inner := x + string(e.op1) + y
		if mulDiv(e.op2) && !mulDiv(e.op1) {
			inner = "(" + inner + ")"
		}
		return inner + string(e.op2) + z
	}
	inner := y + string(e.op2) + z
	// x+(y∘z) never needs them; x-(y∘z) and x*(y∘z) do when ∘ is + or -; x/(y∘z) always.
	if e.op1 == '/' || e.op1 != '+' && !mulDiv(e.op2) {
		inner = "(" + inner + ")"
	}
	return x + string(e.op1) + inner
}

func mulDiv(op byte) bool { return op == '*' || op == '/' }

// rat is a small exact rational in lowest terms with d > 0: fast enough to enumerate every
// Countdown expression, which big.Rat is not needed for.
type rat struct{ n, d int64 }

func newRat(n, d int64) rat {
	if d < 0 {
		n, d = -n, -d
	}
	a, b := n, d
	if a < 0 {
		a = -a
	}
	for b != 0 {
		a, b = b, a%b
	}
	return rat{n / a, d / a}
}

// apply computes a op b; ok is false for a division by zero.
func (a rat) apply(op byte, b rat) (v rat, ok bool) {
	switch op {
	case '+':
		return newRat(a.n*b.d+b.n*a.d, a.d*b.d), true
	case '-':
		return newRat(a.n*b.d-b.n*a.d, a.d*b.d), true
	case '*':
		return newRat(a.n*b.n, a.d*b.d), true
	}
	if b.n == 0 {
		return rat{}, false
	}
	return newRat(a.n*b.d, a.d*b.n), true
}
