package cpu

import (
	"math"

	"github.com/dllmrl/agrpo/core"
)

// SelectionLogProbs writes log F per row (see core.Backend).
func (b *Backend) SelectionLogProbs(logF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	n, v := rows(logits)
	mustShape("selection logF", logF, n)
	parallel(b, n, 16, selectionBody{out: f32(logF), sel: b.selectionInputs(logits, support, kappa, rule, n, v, p)})
}

// SelectionLogProbsBackward adds the gradient of Σ dLogF·logF into dLogits (see core.Backend).
func (b *Backend) SelectionLogProbsBackward(dLogits, dLogF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	n, v := rows(logits)
	mustSameLen("selection backward", dLogits, logits)
	mustShape("selection backward dlogF", dLogF, n)
	parallel(b, n, 16, selectionBwBody{dl: f32(dLogits), dF: f32(dLogF), sel: b.selectionInputs(logits, support, kappa, rule, n, v, p)})
}

func (b *Backend) selectionInputs(logits, support, kappa, rule *core.Tensor, n, v int, p core.SelectionParams) selection {
	mustShape("selection kappa", kappa, n)
	mustShape("selection rule", rule, n)
	return selection{ls: f32(logits), sup: supportOf("selection", support, n, v), kappa: f32(kappa), rule: i32(rule),
		z: b.chunkF, v: v, p: p}
}

// selection holds the inputs both directions share and decides, row by row, the set B of the
// tokens that rank below κ.
type selection struct {
	ls, kappa []float32
	sup, rule []int32
	z         [][]float32 // per-chunk row buffers
	v         int
	p         core.SelectionParams
}

// selRow is one row's decision: its tempered logits z and their lse, the confidence's lse, κ
// and whether the band of ties belongs to B, and F = Σ_{v∈B} p(v).
type selRow struct {
	raw, z        []float32
	lse, confLSE  float32
	untempered    bool
	kappa, tol, f float64
	ties          bool
}

// row prepares row r in z (its tempered logits) and decides its set B.
func (s *selection) row(r int, z []float32) selRow {
	raw := s.ls[r*s.v : (r+1)*s.v]
	temperedRow(z, raw, s.sup, r, s.p.InvTemp)
	_, lse := logSumExp(z)
	d := selRow{raw: raw, z: z, lse: lse, confLSE: lse, untempered: s.p.Confidence == core.Untempered,
		kappa: float64(s.kappa[r]), tol: float64(s.p.Tol)}
	if d.untempered {
		_, d.confLSE = logSumExp(raw)
	}
	var below, band float64
	nBelow := 0
	for j, zj := range z {
		if math.IsInf(float64(zj), -1) {
			continue // outside the support: never drawn
		}
		switch c := d.conf(j); {
		case c < d.kappa-d.tol:
			below += math.Exp(float64(zj - lse))
			nBelow++
		case c <= d.kappa+d.tol:
			band += math.Exp(float64(zj - lse))
		}
	}
	d.ties = s.rule[r] == 2 || nBelow == 0
	d.f = below
	if d.ties {
		d.f += band
	}
	return d
}

// conf is token j's confidence as the sampler scored it.
func (d *selRow) conf(j int) float64 {
	if d.untempered {
		return float64(d.raw[j] - d.confLSE)
	}
	return float64(d.z[j] - d.lse)
}

// member reports whether token j (inside the support) is in B.
func (d *selRow) member(j int) bool {
	c := d.conf(j)
	return c < d.kappa-d.tol || (d.ties && c <= d.kappa+d.tol)
}

type selectionBody struct {
	out []float32
	sel selection
}

func (c *selectionBody) run(w, lo, hi int) {
	z := chunkScratch(c.sel.z, w, c.sel.v)
	for r := lo; r < hi; r++ {
		if c.sel.rule[r] == 0 {
			c.out[r] = 0
			continue
		}
		d := c.sel.row(r, z)
		c.out[r] = float32(math.Log(d.f))
	}
}

type selectionBwBody struct {
	dl, dF []float32
	sel    selection
}

// run: ∂log F/∂z_u = p(u)(1[u∈B]/F − 1), and ∂z/∂logits = InvTemp.
func (c *selectionBwBody) run(w, lo, hi int) {
	v := c.sel.v
	z := chunkScratch(c.sel.z, w, v)
	for r := lo; r < hi; r++ {
		if c.sel.rule[r] == 0 {
			continue
		}
		d := c.sel.row(r, z)
		if d.f == 0 {
			continue
		}
		g := float64(c.dF[r]) * float64(c.sel.p.InvTemp)
		drow := c.dl[r*v : (r+1)*v]
		for j, zj := range z {
			if math.IsInf(float64(zj), -1) {
				continue
			}
			p := math.Exp(float64(zj - d.lse))
			grad := -p
			if d.member(j) {
				grad += p / d.f
			}
			drow[j] += float32(g * grad)
		}
	}
}
