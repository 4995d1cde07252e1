package backendtest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/dllmrl/agrpo/core"
)

// refDistribution is the sampling distribution of core.UnmaskParams in float64: tempered
// logits over the support (MaskID out, then top-k with ties kept, then top-p dropping the least
// likely tokens while the dropped mass stays ≤ 1 − TopP).
func refDistribution(logits []float64, p core.UnmaskParams) (z []float64, keep []bool) {
	v := len(logits)
	z, keep = make([]float64, v), make([]bool, v)
	invT := 1.0
	if p.Temperature > 0 {
		invT = 1 / float64(float32(p.Temperature))
	}
	for i := range z {
		z[i] = logits[i] * invT
		keep[i] = int32(i) != p.MaskID
	}
	if p.Temperature > 0 {
		var ids []int
		for i := range z {
			if keep[i] {
				ids = append(ids, i)
			}
		}
		sort.SliceStable(ids, func(a, b int) bool { return z[ids[a]] > z[ids[b]] }) // descending
		if p.TopK > 0 && p.TopK < len(ids) {
			kth := z[ids[p.TopK-1]]
			for _, i := range ids {
				if z[i] < kth {
					keep[i] = false
				}
			}
		}
		if p.TopP > 0 && p.TopP < 1 {
			var kept []int
			for _, i := range ids {
				if keep[i] {
					kept = append(kept, i)
				}
			}
			var total float64
			for _, i := range kept {
				total += math.Exp(z[i])
			}
			// Walk from the least likely up, dropping while the cumulative mass ≤ 1 − TopP.
			var cum float64
			for k := len(kept) - 1; k >= 1; k-- {
				cum += math.Exp(z[kept[k]]) / total
				if cum > 1-float64(p.TopP) {
					break
				}
				keep[kept[k]] = false
			}
		}
	}
	return z, keep
}

func testUnmaskStep(s *suite) {
	const nb, promptLen, c, v = 3, 4, 10, 7
	const maskID = v - 1
	seq := promptLen + c
	for _, temp := range []float32{0, 0.7} {
		for _, topK := range []int{0, 3} {
			for _, topP := range []float32{0, 0.8} {
				for _, rm := range []core.Remasking{core.LowConfidence, core.RandomOrder, core.LowEntropy} {
					for _, conf := range []core.Confidence{core.Tempered, core.Untempered} {
						if temp == 0 && (topK > 0 || topP > 0) {
							continue // greedy ignores the support restrictions
						}
						if conf == core.Untempered && rm != core.LowConfidence {
							continue // only low-confidence remasking reads the confidence
						}
						p := core.UnmaskParams{PromptLen: promptLen, BlockStart: 2, BlockEnd: 8, Reveal: 2, Step: 5,
							Temperature: temp, TopK: topK, TopP: topP, Remasking: rm, Confidence: conf, Seed: 99, MaskID: maskID}
						s.checkUnmask(fmt.Sprintf("T=%g topk=%d topp=%g %v %v", temp, topK, topP, rm, conf), p, nb, seq, c, v)
						if temp > 0 && rm == core.RandomOrder {
							p.RowOffset = 5 // the rows of a later part of a batch (a data-parallel rank's)
							s.checkUnmask(fmt.Sprintf("T=%g topk=%d topp=%g %v row offset 5", temp, topK, topP, rm), p, nb, seq, c, v)
						}
					}
				}
			}
		}
	}
	s.checkUnmaskDistribution()
	s.checkUnmaskRefuses(nb, promptLen, c, v)
	// Logits that are not finite: in two rows, at one position (NaN) and at two (+Inf and an
	// −Inf from overflowing logits/T), with Reveal = 1 so that only the fault rule reveals them;
	// V = 100 as well, which a GPU may handle with a workgroup per position.
	for _, v := range []int{v, 100} {
		for _, temp := range []float32{0, 0.7} {
			p := core.UnmaskParams{PromptLen: promptLen, BlockStart: 2, BlockEnd: 8, Reveal: 1, Step: 5,
				Temperature: temp, TopK: 3, TopP: 0.8, Remasking: core.LowConfidence, Seed: 99, MaskID: maskID}
			s.checkUnmaskLogits(fmt.Sprintf("faults V=%d T=%g", v, temp), p, nb, seq, c, v, func(lv []float64) {
				at := func(r, j, id int) *float64 { return &lv[((r*seq+promptLen+j)*v)+id] }
				*at(0, 5, 2) = math.NaN()
				*at(1, 6, 0) = math.Inf(1)
				*at(1, 4, v-1) = -3e38
			})
		}
	}
}

func (s *suite) checkUnmask(name string, p core.UnmaskParams, nb, seq, c, v int) {
	s.checkUnmaskLogits(name, p, nb, seq, c, v, func([]float64) {})
}

// checkUnmaskLogits runs one step on random logits, changed by edit before the upload, and
// compares it with the float64 reference.
func (s *suite) checkUnmaskLogits(name string, p core.UnmaskParams, nb, seq, c, v int, edit func(lv []float64)) {
	logits, lv := s.rand(2, nb, seq, v)
	edit(lv)
	s.b.Upload(logits, f32(lv))
	tok := make([]int32, nb*seq)
	steps := make([]int32, nb*c)
	for r := 0; r < nb; r++ {
		for i := 0; i < seq; i++ {
			tok[r*seq+i] = p.MaskID
			if i < p.PromptLen {
				tok[r*seq+i] = int32(s.rng.IntN(v - 1))
			}
		}
		for j := 0; j < c; j++ {
			steps[r*c+j] = -1
		}
		// Position 3 of each row was revealed at an earlier step.
		tok[r*seq+p.PromptLen+3], steps[r*c+3] = 2, 1
	}
	active := []int32{1, 1, 0}
	st := core.UnmaskState{Tokens: s.ints(tok, nb, seq), RevealStep: s.ints(steps, nb, c),
		LogP: s.b.Alloc(core.F32, nb, c), Entropy: s.b.Alloc(core.F32, nb, c),
		Support: s.b.Alloc(core.F32, nb, p.BlockEnd-p.BlockStart, v), Active: s.ints(active, nb)}
	s.b.UnmaskStep(st, logits, p)

	wantTok, wantStep := append([]int32(nil), tok...), append([]int32(nil), steps...)
	bl := p.BlockEnd - p.BlockStart // the support holds the block's positions
	wantLP, wantEnt, wantSup := make([]float64, nb*c), make([]float64, nb*c), make([]float64, nb*bl*v)
	for r := 0; r < nb; r++ {
		if active[r] == 0 {
			continue
		}
		type cand struct {
			j                int
			y                int
			logp, ent, score float64
			keep             []bool
		}
		var cands []cand
		for j := p.BlockStart; j < p.BlockEnd; j++ {
			if steps[r*c+j] >= 0 {
				continue
			}
			pos := r*seq + p.PromptLen + j
			z, keep := refDistribution(lv[pos*v:(pos+1)*v], p)
			if slices.ContainsFunc(z, func(x float64) bool { return math.IsNaN(x) || math.IsInf(float64(float32(x)), 0) }) {
				// No distribution: MaskID drawn, NaN recorded, revealed first (core.UnmaskParams).
				keep = make([]bool, v)
				for i := range keep {
					keep[i] = int32(i) != p.MaskID
				}
				cands = append(cands, cand{j: j, y: int(p.MaskID), logp: math.NaN(), ent: math.NaN(), score: math.Inf(1), keep: keep})
				continue
			}
			var zk []float64
			for i := range z {
				if keep[i] {
					zk = append(zk, z[i])
				}
			}
			lse := refLSE(zk)
			y, best := -1, math.Inf(-1)
			for i := range z {
				if !keep[i] {
					continue
				}
				key := z[i]
				if p.Temperature > 0 {
					u := core.Uniform(p.Seed, core.StreamGumbel, uint32(p.Step), uint32((p.RowOffset+r)*c+j), uint32(i))
					key -= math.Log(-math.Log(u))
				}
				if key > best {
					y, best = i, key
				}
			}
			var ent float64
			for i := range z {
				if keep[i] {
					ent -= math.Exp(z[i]-lse) * (z[i] - lse)
				}
			}
			cd := cand{j: j, y: y, logp: z[y] - lse, ent: ent, keep: keep}
			switch p.Remasking {
			case core.LowConfidence:
				cd.score = cd.logp
				if p.Confidence == core.Untempered {
					row := lv[pos*v : (pos+1)*v]
					cd.score = row[y] - refLSE(row)
				}
			case core.RandomOrder:
				cd.score = core.Uniform(p.Seed, core.StreamRemask, uint32(p.Step), uint32((p.RowOffset+r)*c+j), 0)
			case core.LowEntropy:
				cd.score = -ent
			}
			cands = append(cands, cd)
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
		for _, cd := range cands[:min(p.Reveal, len(cands))] {
			i := r*c + cd.j
			wantTok[r*seq+p.PromptLen+cd.j] = int32(cd.y)
			wantStep[i] = int32(p.Step)
			wantLP[i], wantEnt[i] = cd.logp, cd.ent
		}
		// Every drawn position keeps its support, revealed or not: the exact likelihood of a
		// low-confidence step needs the distributions of the positions left masked.
		for _, cd := range cands {
			for k, in := range cd.keep {
				if !in {
					wantSup[(r*bl+cd.j-p.BlockStart)*v+k] = math.Inf(-1)
				}
			}
		}
	}
	gotTok, gotStep := make([]int32, len(tok)), make([]int32, len(steps))
	s.b.DownloadInt(st.Tokens, gotTok)
	s.b.DownloadInt(st.RevealStep, gotStep)
	for i := range gotTok {
		if gotTok[i] != wantTok[i] {
			s.t.Fatalf("%s: token %d is %d, want %d (all: %v, want %v)", name, i, gotTok[i], wantTok[i], gotTok, wantTok)
		}
	}
	for i := range gotStep {
		if gotStep[i] != wantStep[i] {
			s.t.Fatalf("%s: reveal step %d is %d, want %d", name, i, gotStep[i], wantStep[i])
		}
	}
	s.checkNaN(name+" logp", s.down(st.LogP), wantLP)
	s.checkNaN(name+" entropy", s.down(st.Entropy), wantEnt)
	gotSup := s.down(st.Support)
	for i := range gotSup {
		if gotSup[i] != wantSup[i] {
			s.t.Fatalf("%s: support %d is %g, want %g", name, i, gotSup[i], wantSup[i])
		}
	}
}

// checkNaN is check at fwdTol for values that must be NaN exactly where want is.
func (s *suite) checkNaN(name string, got, want []float64) {
	s.t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	for i := range want {
		if math.IsNaN(got[i]) != math.IsNaN(want[i]) {
			s.t.Fatalf("%s: value %d is %g, want %g", name, i, got[i], want[i])
		}
		if math.IsNaN(want[i]) {
			got[i], want[i] = 0, 0
		}
	}
	s.check(name, got, want, fwdTol)
}

// checkUnmaskDistribution draws one position many times (the step counter varies the random
// numbers) and compares the token frequencies with the target distribution by chi-square:
// Gumbel-max over the support must be an exact sample of softmax(logits/T) on that support.
func (s *suite) checkUnmaskDistribution() {
	const v, draws = 6, 6000
	logitVals := []float64{1.0, 0.2, -0.5, 2.0, 0.9, 3}
	p := core.UnmaskParams{PromptLen: 1, BlockStart: 0, BlockEnd: 1, Reveal: 1, Temperature: 0.8, TopK: 4,
		Remasking: core.LowConfidence, Seed: 3, MaskID: v - 1}
	logits := s.upload(append(make([]float64, v), logitVals...), 1, 2, v)
	z, keep := refDistribution(logitVals, p)
	var zk []float64
	for i := range z {
		if keep[i] {
			zk = append(zk, z[i])
		}
	}
	lse := refLSE(zk)
	counts := make([]int, v)
	tokens := s.b.Alloc(core.I32, 1, 2)
	steps := s.b.Alloc(core.I32, 1, 1)
	st := core.UnmaskState{Tokens: tokens, RevealStep: steps, LogP: s.b.Alloc(core.F32, 1, 1),
		Entropy: s.b.Alloc(core.F32, 1, 1), Active: s.ints([]int32{1}, 1)}
	got := make([]int32, 2)
	for i := 0; i < draws; i++ {
		s.b.UploadInt(tokens, []int32{0, p.MaskID})
		s.b.UploadInt(steps, []int32{-1})
		p.Step = i
		s.b.UnmaskStep(st, logits, p)
		s.b.DownloadInt(tokens, got)
		counts[got[1]]++
	}
	var chi2 float64
	dof := -1
	for i := range z {
		if !keep[i] {
			if counts[i] != 0 {
				s.t.Fatalf("token %d outside the support drawn %d times", i, counts[i])
			}
			continue
		}
		want := draws * math.Exp(z[i]-lse)
		chi2 += (float64(counts[i]) - want) * (float64(counts[i]) - want) / want
		dof++
	}
	if chi2 > 16.3 { // 99.9th percentile of χ² with 3 degrees of freedom
		s.t.Errorf("sampled frequencies %v do not match the distribution (χ² = %.1f, %d dof)", counts, chi2, dof)
	}
}

// checkUnmaskRefuses: every backend refuses, with a panic naming the problem, a mask id outside
// the vocabulary, a negative reveal count and a block outside the completion (core's
// UnmaskState.Check, shared by the backends).
func (s *suite) checkUnmaskRefuses(nb, promptLen, c, v int) {
	state := core.UnmaskState{Tokens: s.b.Alloc(core.I32, nb, promptLen+c), RevealStep: s.b.Alloc(core.I32, nb, c),
		LogP: s.b.Alloc(core.F32, nb, c), Entropy: s.b.Alloc(core.F32, nb, c), Active: s.b.Alloc(core.I32, nb)}
	logits := s.b.Alloc(core.F32, nb, promptLen+c, v)
	good := core.UnmaskParams{PromptLen: promptLen, BlockStart: 0, BlockEnd: c, Reveal: 1, MaskID: int32(v - 1)}
	for _, bad := range []struct {
		name, want string
		edit       func(*core.UnmaskParams)
	}{
		{"mask id = V", "mask id", func(p *core.UnmaskParams) { p.MaskID = int32(v) }},
		{"mask id < 0", "mask id", func(p *core.UnmaskParams) { p.MaskID = -1 }},
		{"reveal < 0", "reveal", func(p *core.UnmaskParams) { p.Reveal = -1 }},
		{"block past the end", "block", func(p *core.UnmaskParams) { p.BlockEnd = c + 1 }},
	} {
		p := good
		bad.edit(&p)
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			s.b.UnmaskStep(state, logits, p)
			return ""
		}()
		if !strings.Contains(msg, bad.want) {
			s.t.Errorf("unmask step with %s: got panic %q, want one naming %q", bad.name, msg, bad.want)
		}
	}
}
