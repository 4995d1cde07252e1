package backendtest

import (
	"fmt"
	"math"
	"sort"

	"github.com/dllmrl/agrpo/core"
)

// testSelectionLogProbs checks the selection factor against refSelection and its backward
// against finite differences of it, on rows of every kind: skipped (rule 0), ties out (1) and
// in (2) with a token inside the band of ties, a row whose only candidates are in the band (the
// guard's fallback), and a row where no token ranks below κ (−Inf, and no gradient).
func testSelectionLogProbs(s *suite) {
	for _, sh := range [][2]int{{9, 7}, {12, 40}, {5, 300}} {
		n, v := sh[0], sh[1]
		for _, conf := range []core.Confidence{core.Tempered, core.Untempered} {
			for _, withBias := range []bool{false, true} {
				p := core.SelectionParams{InvTemp: 1 / 0.7, Confidence: conf, Tol: 0.05}
				s.checkSelection(fmt.Sprintf("selection %dx%d %v support=%v", n, v, conf, withBias), n, v, withBias, p)
			}
		}
	}
}

func (s *suite) checkSelection(name string, n, v int, withBias bool, p core.SelectionParams) {
	var lv, bv, kv []float64
	rule := make([]int32, n)
	for {
		lv, bv, kv = s.selectionCase(n, v, withBias, p, rule)
		if kv != nil {
			break
		}
	}
	logits, kappa, ruleT := s.upload(lv, n, v), s.upload(kv, n), s.ints(rule, n)
	var support *core.Tensor
	if withBias {
		support = s.support(bv, n, v)
	}
	want := refSelection(lv, bv, kv, rule, v, p)
	logF := s.b.Alloc(core.F32, n)
	s.b.SelectionLogProbs(logF, logits, support, kappa, ruleT, p)
	got := s.down(logF)
	var finiteGot, finiteWant []float64
	for i := range want {
		if math.IsInf(want[i], -1) {
			if !math.IsInf(got[i], -1) {
				s.t.Errorf("%s: row %d has no token below κ, logF = %g, want −Inf", name, i, got[i])
			}
			continue
		}
		finiteGot, finiteWant = append(finiteGot, got[i]), append(finiteWant, want[i])
	}
	s.check(name+" logF", finiteGot, finiteWant, fwdTol)

	// Backward adds into dLogits: start from random values.
	dF, dFv := s.rand(1, n)
	dx, dx0 := s.rand(1, n, v)
	s.b.SelectionLogProbsBackward(dx, dF, logits, support, kappa, ruleT, p)
	loss := func() float64 {
		var l float64
		for i, f := range refSelection(lv, bv, kv, rule, v, p) {
			if !math.IsInf(f, -1) {
				l += dFv[i] * f
			}
		}
		return l
	}
	wantDx := fdGrad(lv, loss)
	for i := range wantDx {
		wantDx[i] += dx0[i]
	}
	s.check(name+" backward", s.down(dx), wantDx, bwdTol)
}

// selectionCase draws logits (and a top-k style bias) and picks κ and a rule per row, so that
// the rows cover every case of the op; it returns nil κ when a confidence fell within the
// margin of a band edge, where float32 and float64 may decide differently, and the caller draws again.
func (s *suite) selectionCase(n, v int, withBias bool, p core.SelectionParams, rule []int32) (lv, bv, kv []float64) {
	const margin = 2e-3 // no confidence this close to a band edge, so B is the same in float32
	_, lv = s.rand(2, n, v)
	if withBias {
		bv = make([]float64, n*v)
		for i := range bv {
			// Rows of every support kind (see s.support): a cut, all but one id, all ids.
			switch r, j := i/v, i%v; r % 3 {
			case 0:
				if s.rng.IntN(3) == 0 && j != 0 {
					bv[i] = math.Inf(-1)
				}
			case 1:
				if j == 1 {
					bv[i] = math.Inf(-1)
				}
			}
		}
	}
	kv = make([]float64, n)
	tol := float64(p.Tol)
	for r := 0; r < n; r++ {
		raw := lv[r*v : (r+1)*v]
		z := make([]float64, v)
		for j := range z {
			z[j] = raw[j] * float64(p.InvTemp)
			if bv != nil {
				z[j] += bv[r*v+j]
			}
		}
		lse, rawLSE := refLSE(z), refLSE(raw)
		var confs []float64
		for j := range z {
			if math.IsInf(z[j], -1) {
				continue
			}
			if p.Confidence == core.Untempered {
				confs = append(confs, raw[j]-rawLSE)
			} else {
				confs = append(confs, z[j]-lse)
			}
		}
		sort.Float64s(confs)
		switch r % 5 {
		case 0: // skipped
			rule[r], kv[r] = 0, 0
		case 1, 2: // a band tie, lost (rule 1) or won (rule 2) by this position
			rule[r] = 1 + int32(r%5-1)
			k := confs[len(confs)/2]
			kv[r] = k + tol*(s.rng.Float64()-0.5)
		case 3: // only band candidates: the guard includes them
			rule[r] = 1
			kv[r] = confs[0] + tol*(s.rng.Float64()-0.5)
		case 4: // nothing below κ: F = 0
			rule[r] = 1
			kv[r] = confs[0] - 2*tol - 1
		}
		if rule[r] == 0 {
			continue
		}
		kv[r] = float64(float32(kv[r]))
		for _, c := range confs {
			if math.Abs(c-(kv[r]-tol)) < margin || math.Abs(c-(kv[r]+tol)) < margin {
				return nil, nil, nil
			}
		}
	}
	return lv, bv, kv
}
