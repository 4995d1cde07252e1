package cpu

import (
	"math"
	"slices"

	"github.com/dllmrl/agrpo/core"
)

// UnmaskStep runs one sampler step on every active row (see core.Backend).
func (b *Backend) UnmaskStep(s core.UnmaskState, logits *core.Tensor, p core.UnmaskParams) {
	if err := s.Check(logits, p); err != nil {
		panic("cpu: unmask step: " + err.Error())
	}
	nb, seq := s.Tokens.Dim(0), s.Tokens.Dim(1)
	c, v := seq-p.PromptLen, logits.Dim(2)
	var support []float32
	if s.Support != nil {
		support = f32(s.Support)
	}
	if b.drawers == nil {
		b.drawers = make([]drawer, b.threads)
	}
	parallel(b, nb, 1, unmaskBody{tok: i32(s.Tokens), step: i32(s.RevealStep), act: i32(s.Active), lp: f32(s.LogP),
		ent: f32(s.Entropy), ls: f32(logits), support: support, drawers: b.drawers, p: p, seq: seq, c: c, v: v})
}

type unmaskBody struct {
	tok, step, act       []int32
	lp, ent, ls, support []float32
	drawers              []drawer // per-chunk scratch
	p                    core.UnmaskParams
	seq, c, v            int
}

func (t *unmaskBody) run(w, lo, hi int) {
	tok, step, act, lp, ent, ls, support := t.tok, t.step, t.act, t.lp, t.ent, t.ls, t.support
	p, seq, c, v := t.p, t.seq, t.c, t.v
	d := &t.drawers[w]
	d.reset(v, p)
	cands := d.cands[:0]
	for row := lo; row < hi; row++ {
		if act[row] == 0 {
			continue
		}
		cands = cands[:0]
		for j := p.BlockStart; j < p.BlockEnd; j++ {
			if step[row*c+j] >= 0 {
				continue
			}
			pos := row*seq + p.PromptLen + j
			lane := uint32((p.RowOffset+row)*c + j)
			y, logp, h, ok := d.draw(ls[pos*v:(pos+1)*v], lane)
			score := logp
			switch {
			case !ok:
				score = float32(math.Inf(1)) // a fault is revealed first, so its step records it
			case p.Remasking == core.LowConfidence:
				if p.Confidence == core.Untempered {
					row := ls[pos*v : (pos+1)*v]
					_, lse := logSumExp(row)
					score = row[y] - lse
				}
			case p.Remasking == core.RandomOrder:
				score = float32(core.Uniform(p.Seed, core.StreamRemask, uint32(p.Step), lane, 0))
			case p.Remasking == core.LowEntropy:
				score = -h
			}
			cands = append(cands, candidate{j: j, y: y, logp: logp, entropy: h, score: score})
			if support != nil {
				i := row*(p.BlockEnd-p.BlockStart) + j - p.BlockStart // Support holds the block's positions
				copy(support[i*v:(i+1)*v], d.support)
			}
		}
		// Best scores first; among equal scores the lower position first.
		slices.SortStableFunc(cands, func(a, b candidate) int {
			switch {
			case a.score > b.score:
				return -1
			case b.score > a.score:
				return 1
			}
			return 0
		})
		for _, cd := range cands[:min(p.Reveal, len(cands))] {
			i := row*c + cd.j
			tok[row*seq+p.PromptLen+cd.j] = cd.y
			step[i] = int32(p.Step)
			lp[i] = cd.logp
			ent[i] = cd.entropy
		}
	}
	d.cands = cands[:0]
}

type candidate struct {
	j             int
	y             int32
	logp, entropy float32
	score         float32
}

// drawer samples one position: it holds the step's parameters and per-worker scratch.
type drawer struct {
	p       core.UnmaskParams
	invT    float32
	z       []float32 // tempered logits, −Inf outside the support
	support []float32 // 0 inside the support, −Inf outside
	order   []int
	orders  []int       // backing store of order, which restrict re-slices
	cands   []candidate // the row's drawn positions, kept for reuse
}

// reset prepares the drawer for a step with vocabulary v, reusing its buffers.
func (d *drawer) reset(v int, p core.UnmaskParams) {
	d.p = p
	d.z = floats(&d.z, v)
	d.support = floats(&d.support, v)
	if cap(d.orders) < v {
		d.orders = make([]int, 0, v)
	}
	d.order = d.orders[:0]
	d.invT = 1
	if p.Temperature > 0 {
		d.invT = 1 / p.Temperature
	}
}

// draw returns the token drawn from a row of logits and its log-probability and entropy under
// the distribution drawn from; d.support holds that distribution's support afterwards. When a
// tempered logit is not finite there is no distribution: it returns ok = false with MaskID and
// NaN log-probability and entropy, and the support without MaskID (core.UnmaskParams).
func (d *drawer) draw(logits []float32, lane uint32) (y int32, logp, entropy float32, ok bool) {
	neg := float32(math.Inf(-1))
	ok = true
	for i, l := range logits {
		d.z[i] = l * d.invT
		d.support[i] = 0
		ok = ok && !math.IsNaN(float64(d.z[i])) && !math.IsInf(float64(d.z[i]), 0)
	}
	d.support[d.p.MaskID] = neg
	if !ok {
		nan := float32(math.NaN())
		return d.p.MaskID, nan, nan, false
	}
	if d.p.Temperature > 0 {
		d.restrict()
	}
	for i := range d.z {
		d.z[i] += d.support[i]
	}
	_, lse := logSumExp(d.z)
	best := -1
	if d.p.Temperature > 0 {
		bestKey := math.Inf(-1)
		for i, zi := range d.z {
			if d.support[i] != 0 {
				continue
			}
			u := core.Uniform(d.p.Seed, core.StreamGumbel, uint32(d.p.Step), lane, uint32(i))
			if key := float64(zi) - math.Log(-math.Log(u)); key > bestKey {
				best, bestKey = i, key
			}
		}
	} else {
		for i, zi := range d.z {
			if d.support[i] == 0 && (best < 0 || zi > d.z[best]) {
				best = i
			}
		}
	}
	return int32(best), d.z[best] - lse, entropyOf(d.z, lse), true
}

// restrict applies top-k, then top-p, to the support (as Hugging Face's warpers do: ties at the
// k-th value are kept; top-p drops the least likely tokens while the mass dropped stays
// ≤ 1 − TopP, never dropping the most likely one).
func (d *drawer) restrict() {
	neg := float32(math.Inf(-1))
	d.order = d.orders[:0]
	for i := range d.z {
		if d.support[i] == 0 {
			d.order = append(d.order, i)
		}
	}
	// Ascending by tempered logit; equal logits keep id order so the result is deterministic.
	slices.SortStableFunc(d.order, func(a, b int) int {
		switch za, zb := d.z[a], d.z[b]; {
		case za < zb:
			return -1
		case zb < za:
			return 1
		}
		return 0
	})
	if k := d.p.TopK; k > 0 && k < len(d.order) {
		kth := d.z[d.order[len(d.order)-k]]
		cut := 0
		for cut < len(d.order) && d.z[d.order[cut]] < kth {
			d.support[d.order[cut]] = neg
			cut++
		}
		d.order = d.order[cut:]
	}
	if tp := d.p.TopP; tp > 0 && tp < 1 {
		mx := d.z[d.order[len(d.order)-1]]
		var total float64
		for _, i := range d.order {
			total += math.Exp(float64(d.z[i] - mx))
		}
		var cum float64
		for _, i := range d.order[:len(d.order)-1] {
			cum += math.Exp(float64(d.z[i]-mx)) / total
			if cum > 1-float64(tp) {
				break
			}
			d.support[i] = neg
		}
	}
}
