package sampler

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
)

func testModel(t *testing.T) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 9, DModel: 16, Layers: 2, Heads: 2, MLPHidden: 24, MaxSeqLen: 32,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: 8, EOSID: 7, PadID: 7}
	b := cpu.New()
	p := model.NewParams(b, cfg)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		for i := range v {
			if n.Tensor.Rank() == 1 {
				v[i] = 1
			} else {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(n.Tensor.Dim(1))))
			}
		}
		b.Upload(n.Tensor, v)
	}
	return model.New(b, cfg, p)
}

func prompts() []Prompt {
	return []Prompt{{Tokens: []int32{1, 2, 3}}, {Tokens: []int32{4, 5}}, {Tokens: []int32{7, 7, 2, 3, 4}, Mask: []int32{0, 0, 1, 1, 1}}, {Tokens: []int32{0}}}
}

func TestNumTransfer(t *testing.T) {
	for _, c := range []struct {
		masked, steps int
		want          []int
	}{{12, 5, []int{3, 3, 2, 2, 2}}, {12, 12, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}, {8, 3, []int{3, 3, 2}}, {4, 4, []int{1, 1, 1, 1}}} {
		if got := NumTransfer(c.masked, c.steps); !reflect.DeepEqual(got, c.want) {
			t.Errorf("NumTransfer(%d, %d) = %v, want %v", c.masked, c.steps, got, c.want)
		}
	}
}

// TestStateRebuild: the state before every step, rebuilt from the records alone, equals the
// state the sampler actually had, for every remasking rule, in multi-block runs.
func TestStateRebuild(t *testing.T) {
	m := testModel(t)
	for _, rm := range []core.Remasking{core.RandomOrder, core.LowConfidence, core.LowEntropy} {
		cfg := Config{GenLength: 12, BlockLength: 4, Steps: 9, Temperature: 0.9, TopK: 5, TopP: 0.95, Remasking: rm, Seed: 11}
		var captured [][]int32 // captured[k] = sequences before step k
		var lastLogp []float32
		tr, err := Generate(m, prompts(), cfg, func(step int, tok []int32, logp []float32) {
			lastLogp = append(lastLogp[:0], logp...)
			captured = append(captured, append([]int32(nil), tok...))
		})
		if err != nil {
			t.Fatal(err)
		}
		if tr.StepsRun != 9 || len(captured) != 10 {
			t.Fatalf("%v: %d steps run, %d states captured", rm, tr.StepsRun, len(captured))
		}
		if !reflect.DeepEqual(lastLogp, tr.LogP) {
			t.Fatalf("%v: the last step's log-probabilities %v differ from the records %v", rm, lastLogp, tr.LogP)
		}
		seq := tr.P + tr.C
		for r := 0; r < tr.B; r++ {
			for k := 0; k <= tr.StepsRun; k++ {
				want := captured[k][r*seq+tr.P : (r+1)*seq]
				if got := tr.StateBefore(r, k); !reflect.DeepEqual(got, want) {
					t.Fatalf("%v row %d before step %d: rebuilt %v, sampler had %v", rm, r, k, got, want)
				}
			}
			// Each step of a block revealed exactly the scheduled number of tokens.
			counts := make([]int, cfg.Steps)
			for j := 0; j < tr.C; j++ {
				counts[tr.RevealStep[r*tr.C+j]]++
			}
			for k, n := range counts {
				if want := NumTransfer(4, 3)[k%3]; n != want {
					t.Fatalf("%v row %d step %d revealed %d tokens, want %d", rm, r, k, n, want)
				}
			}
		}
	}
}

// TestDeterminism: the same seed gives identical trajectories; another seed does not.
func TestDeterminism(t *testing.T) {
	m := testModel(t)
	cfg := Config{GenLength: 8, BlockLength: 8, Steps: 8, Temperature: 1, Remasking: core.RandomOrder, Seed: 3}
	a, err := Generate(m, prompts(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(m, prompts(), cfg, nil)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	cfg.Seed = 4
	c, _ := Generate(m, prompts(), cfg, nil)
	if reflect.DeepEqual(a.Tokens, c.Tokens) && reflect.DeepEqual(a.RevealStep, c.RevealStep) {
		t.Fatal("a different seed gave the same trajectories")
	}
}

// TestGreedyIndependentOfBatch: at T = 0 a row's completion does not depend on the other rows
// in its batch (same padded prompt length), so evaluation may batch freely.
func TestGreedyIndependentOfBatch(t *testing.T) {
	m := testModel(t)
	cfg := Config{GenLength: 8, BlockLength: 4, Steps: 4, Remasking: core.LowConfidence}
	all, err := Generate(m, prompts(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r, pr := range prompts() {
		with := []Prompt{{Tokens: []int32{5, 5, 5, 5, 5}}, pr} // another row first, forcing the same P
		two, _ := Generate(m, with, cfg, nil)
		if got, want := two.Completion(1), all.Completion(r); !reflect.DeepEqual(got, want) {
			t.Errorf("prompt %d: completion %v next to another row, %v in the full batch", r, got, want)
		}
	}
}

// TestRecordsMatchDistribution: the recorded log-probability of every revealed token is its
// log-probability under softmax(logits/T) on the recorded support, recomputed from the rebuilt
// state — what AGRPO's training pass does, so its ratio starts at exactly 1.
func TestRecordsMatchDistribution(t *testing.T) {
	m := testModel(t)
	b := m.B
	cfg := Config{GenLength: 8, BlockLength: 4, Steps: 8, Temperature: 0.7, TopK: 4, Remasking: core.RandomOrder, Seed: 9}
	tr, err := Generate(m, prompts(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := tr.P + tr.C
	keyMask := b.Alloc(core.I32, 1, seq)
	tokens := b.Alloc(core.I32, 1, seq)
	for r := 0; r < tr.B; r++ {
		km := append(append([]int32(nil), tr.PromptMask[r*tr.P:(r+1)*tr.P]...), ones(tr.C)...)
		b.UploadInt(keyMask, km)
		for k := 0; k < tr.StepsRun; k++ {
			state := append(append([]int32(nil), tr.Prompt[r*tr.P:(r+1)*tr.P]...), tr.StateBefore(r, k)...)
			b.UploadInt(tokens, state)
			logits := m.Forward(tokens, keyMask)
			lv := make([]float32, logits.Len())
			b.Download(logits, lv)
			checkDrawSupport(t, tr, r, k, lv, cfg.TopK)
			for j := 0; j < tr.C; j++ {
				i := r*tr.C + j
				if int(tr.RevealStep[i]) != k {
					continue
				}
				row := lv[(tr.P+j)*tr.V : (tr.P+j+1)*tr.V]
				sup := kept(tr.V, tr.DrawSupport(r, k, j))
				var z []float64
				for v, l := range row {
					if sup[v] {
						z = append(z, float64(l)/float64(cfg.Temperature))
					}
				}
				lse := logSumExp(z)
				want := float64(row[tr.Tokens[i]])/float64(cfg.Temperature) - lse
				if math.Abs(want-float64(tr.LogP[i])) > 1e-5 || !sup[tr.Tokens[i]] {
					t.Fatalf("row %d pos %d step %d: recorded logp %g, recomputed %g", r, j, k, tr.LogP[i], want)
				}
				if len(z) > cfg.TopK {
					t.Fatalf("support of %d tokens with top_k %d", len(z), cfg.TopK)
				}
			}
		}
	}
}

func TestStopFinishedRows(t *testing.T) {
	b := cpu.New()
	const nb, p, c, v, seq = 2, 2, 6, 5, 8
	tr := &Trajectories{B: nb, P: p, C: c, V: v, Config: Config{BlockLength: 3}, MaskID: 4, EOSID: 3}
	tok := []int32{0, 1, 3, 3, 3, 4, 4, 4, 0, 1, 3, 2, 3, 4, 4, 4}
	steps := []int32{0, 1, 2, -1, -1, -1, 0, 1, 2, -1, -1, -1}
	st := core.UnmaskState{Tokens: b.Alloc(core.I32, nb, seq), RevealStep: b.Alloc(core.I32, nb, c), Active: b.Alloc(core.I32, nb)}
	b.UploadInt(st.Tokens, tok)
	b.UploadInt(st.RevealStep, steps)
	active := []int32{1, 1}
	if left := stopFinishedRows(b, st, tr, active, 1, 3, p, seq); left != 1 || active[0] != 0 || active[1] != 1 {
		t.Fatalf("left %d, active %v; want row 0 stopped", left, active)
	}
	b.DownloadInt(st.Tokens, tok)
	b.DownloadInt(st.RevealStep, steps)
	if want := []int32{0, 1, 3, 3, 3, 3, 3, 3, 0, 1, 3, 2, 3, 4, 4, 4}; !reflect.DeepEqual(tok, want) {
		t.Errorf("tokens %v, want %v", tok, want)
	}
	if want := []int32{0, 1, 2, 3, 3, 3, 0, 1, 2, -1, -1, -1}; !reflect.DeepEqual(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{GenLength: 12, BlockLength: 5, Steps: 12},
		{GenLength: 12, BlockLength: 4, Steps: 4},
		{GenLength: 12, BlockLength: 4, Steps: 24},
		{GenLength: 12, BlockLength: 12, Steps: 12, TopP: 1.5},
		{GenLength: 12, BlockLength: 12, Steps: 12, TopP: float32(math.NaN())},
		{GenLength: 12, BlockLength: 12, Steps: 12, Temperature: float32(math.NaN())},
		{GenLength: 12, BlockLength: 12, Steps: 12, Temperature: float32(math.Inf(1))},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{GenLength: 12, BlockLength: 4, Steps: 6}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for _, c := range []Config{{GenLength: 12}, {GenLength: 12, Steps: 3}, {GenLength: 12, BlockLength: 4}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v (defaults): %v", c, err)
		}
	}
	if err := (Config{GenLength: 12, BlockLength: -1, Steps: 12}).Validate(); err == nil {
		t.Error("block_length -1: no error")
	}
}

// TestDefaults: BlockLength 0 (one block) and Steps 0 (one token per step) sample exactly what
// the explicit values sample, and the trajectories record the explicit values.
func TestDefaults(t *testing.T) {
	m := testModel(t)
	explicit := Config{GenLength: 8, BlockLength: 8, Steps: 8, Temperature: 1, Remasking: core.RandomOrder, Seed: 3}
	a, err := Generate(m, prompts(), explicit, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(m, prompts(), Config{GenLength: 8, Temperature: 1, Remasking: core.RandomOrder, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("defaults sample other trajectories than the explicit block length and steps")
	}
}

// TestNonFiniteLogits: a NaN in the embedding of token 5, which only prompt 1 holds, makes that
// row's logits NaN from the first step on; Generate must say so (step 1, row 1, 1 row of 4),
// greedy or sampling, whatever the remasking rule, instead of panicking or returning tokens.
func TestNonFiniteLogits(t *testing.T) {
	m := testModel(t)
	v := make([]float32, m.P.WTE.Len())
	m.B.Download(m.P.WTE, v)
	v[5*m.Cfg.DModel+3] = float32(math.NaN())
	m.B.Upload(m.P.WTE, v)
	for _, temp := range []float32{0, 0.9} {
		for _, rm := range []core.Remasking{core.LowConfidence, core.RandomOrder, core.LowEntropy} {
			cfg := Config{GenLength: 8, BlockLength: 4, Steps: 4, Temperature: temp, TopK: 4, Remasking: rm, Seed: 2}
			tr, err := Generate(m, prompts(), cfg, nil)
			want := "at sampling step 1 of 4 in row 1 (1 of 4 rows affected)"
			if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), want) || tr != nil {
				t.Errorf("T=%g %v: Generate returned %v, want an error ending %q", temp, rm, err, want)
			}
		}
	}
}

func ones(n int) []int32 {
	o := make([]int32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

func logSumExp(z []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range z {
		mx = math.Max(mx, x)
	}
	var s float64
	for _, x := range z {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

// checkDrawSupport: every position of step k's block still masked before the step, revealed at
// k or left masked, has a recorded draw support of exactly the top-k tokens of its logits lv
// (the mask excluded), and a position revealed at k drew from the support recorded for it.
func checkDrawSupport(t *testing.T, tr *Trajectories, r, k int, lv []float32, topK int) {
	t.Helper()
	lo, hi := tr.StepBlock(k)
	for j := lo; j < hi; j++ {
		i := r*tr.C + j
		if int(tr.RevealStep[i]) < k || k >= tr.RowSteps[r] {
			continue
		}
		row := lv[(tr.P+j)*tr.V : (tr.P+j+1)*tr.V]
		ids := tr.DrawSupport(r, k, j)
		if !slices.IsSorted(ids) {
			t.Fatalf("row %d step %d position %d: kept ids %v not ascending", r, k, j, ids)
		}
		sup := kept(tr.V, ids)
		for v := range row {
			above := 0
			for u := range row {
				if u != int(tr.MaskID) && row[u] > row[v] {
					above++
				}
			}
			in := v != int(tr.MaskID) && above < topK
			if in != sup[v] {
				t.Fatalf("row %d step %d position %d (revealed at %d): token %d in the draw support = %v, want %v",
					r, k, j, tr.RevealStep[i], v, sup[v], in)
			}
		}
	}
}

// kept is the membership of a support given as kept ids, over a vocabulary of v tokens.
func kept(v int, ids []int32) []bool {
	in := make([]bool, v)
	for _, id := range ids {
		in[id] = true
	}
	return in
}

// TestRowOffset: a batch sampled in parts, each with the RowOffset of its first row, draws the
// same completions as the whole batch at once (what the ranks of a data-parallel job do).
func TestRowOffset(t *testing.T) {
	m := testModel(t)
	var all []Prompt
	for i := range 7 {
		all = append(all, Prompt{Tokens: []int32{int32(i % 7), 1, 2, int32(6 - i%7), 3}})
	}
	for _, rm := range []core.Remasking{core.RandomOrder, core.LowConfidence} {
		cfg := Config{GenLength: 8, BlockLength: 4, Steps: 8, Temperature: 0.9, TopK: 5, Remasking: rm, Seed: 21}
		whole, err := Generate(m, all, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range [][2]int{{0, 2}, {2, 3}, {3, 7}} {
			part := cfg
			part.RowOffset = cut[0]
			got, err := Generate(m, all[cut[0]:cut[1]], part, nil)
			if err != nil {
				t.Fatal(err)
			}
			for r := cut[0]; r < cut[1]; r++ {
				g, w := got.Completion(r-cut[0]), whole.Completion(r)
				if !reflect.DeepEqual(g, w) || got.RowSteps[r-cut[0]] != whole.RowSteps[r] {
					t.Fatalf("%v: row %d sampled in rows [%d, %d): %v, in the whole batch %v", rm, r, cut[0], cut[1], g, w)
				}
				for j := range cfg.GenLength {
					i, k := (r-cut[0])*cfg.GenLength+j, r*cfg.GenLength+j
					if got.RevealStep[i] != whole.RevealStep[k] || math.Abs(float64(got.LogP[i]-whole.LogP[k])) > 1e-6 {
						t.Fatalf("%v: row %d position %d: step %d log p %g in a part, step %d log p %g whole", rm, r, j,
							got.RevealStep[i], got.LogP[i], whole.RevealStep[k], whole.LogP[k])
					}
				}
			}
			if cut[0] > 0 {
				// Without the offset the part draws other completions: the offset is what keys them.
				part.RowOffset = 0
				other, _ := Generate(m, all[cut[0]:cut[1]], part, nil)
				if reflect.DeepEqual(other.Tokens, got.Tokens) {
					t.Errorf("%v: rows [%d, %d) drew the same completions without their offset", rm, cut[0], cut[1])
				}
			}
		}
	}
}
