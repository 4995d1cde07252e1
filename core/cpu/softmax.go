package cpu

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
)

// logSumExp returns the max and log Σ exp(x − max) + max of a row.
func logSumExp(x []float32) (mx, lse float32) {
	mx = float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	if math.IsInf(float64(mx), -1) {
		return mx, mx
	}
	var s float64
	for _, v := range x {
		s += float64(exp32(v - mx))
	}
	return mx, mx + float32(math.Log(s))
}

// LogSoftmax writes out = x − logsumexp(x) per row.
func (b *Backend) LogSoftmax(out, x *core.Tensor) {
	mustSameLen("logsoftmax", out, x)
	n, v := rows(x)
	parallel(b, n, 16, logSoftmaxBody{o: f32(out), xs: f32(x), v: v})
}

type logSoftmaxBody struct {
	o, xs []float32
	v     int
}

func (t *logSoftmaxBody) run(_, lo, hi int) {
	o, xs, v := t.o, t.xs, t.v
	for r := lo; r < hi; r++ {
		row := xs[r*v : (r+1)*v]
		_, lse := logSumExp(row)
		orow := o[r*v : (r+1)*v]
		for j, val := range row {
			orow[j] = val - lse
		}
	}
}

// LogSoftmaxBackward writes dx = dOut − exp(out)·Σ dOut per row.
func (b *Backend) LogSoftmaxBackward(dx, dOut, out *core.Tensor) {
	mustSameLen("logsoftmax backward", dx, dOut, out)
	n, v := rows(out)
	parallel(b, n, 16, logSoftmaxBwBody{d: f32(dx), g: f32(dOut), o: f32(out), v: v})
}

type logSoftmaxBwBody struct {
	d, g, o []float32
	v       int
}

func (t *logSoftmaxBwBody) run(_, lo, hi int) {
	d, g, o, v := t.d, t.g, t.o, t.v
	for r := lo; r < hi; r++ {
		var s float32
		for _, val := range g[r*v : (r+1)*v] {
			s += val
		}
		for j := r * v; j < (r+1)*v; j++ {
			d[j] = g[j] - exp32(o[j])*s
		}
	}
}

// CrossEntropy writes the weighted summed loss and, optionally, its gradient.
func (b *Backend) CrossEntropy(loss, dLogits, logits, targets, weights *core.Tensor) {
	n, v := rows(logits)
	mustShape("cross-entropy targets", targets, n)
	mustShape("cross-entropy weights", weights, n)
	mustShape("cross-entropy loss", loss, 1)
	var dl []float32
	if dLogits != nil {
		mustSameLen("cross-entropy dlogits", dLogits, logits)
		dl = f32(dLogits)
	}
	perRow := floats(&b.perRow, n)
	parallel(b, n, 16, crossEntropyBody{dl: dl, ls: f32(logits), ws: f32(weights), perRow: perRow, tg: i32(targets), v: v})
	var total float64
	for _, l := range perRow {
		total += float64(l)
	}
	f32(loss)[0] = float32(total)
}

type crossEntropyBody struct {
	dl, ls, ws, perRow []float32
	tg                 []int32
	v                  int
}

func (c *crossEntropyBody) run(_, lo, hi int) {
	dl, ls, ws, perRow, tg, v := c.dl, c.ls, c.ws, c.perRow, c.tg, c.v
	for r := lo; r < hi; r++ {
		row := ls[r*v : (r+1)*v]
		t := int(tg[r])
		if t < 0 || t >= v {
			panic(fmt.Sprintf("cpu: cross-entropy target %d out of range [0,%d)", t, v))
		}
		_, lse := logSumExp(row)
		w := ws[r]
		perRow[r] = w * (lse - row[t])
		if dl == nil {
			continue
		}
		drow := dl[r*v : (r+1)*v]
		for j, val := range row {
			drow[j] = w * exp32(val-lse)
		}
		drow[t] -= w
	}
}

// TokenLogProbs evaluates the sampling distribution's log-probability of each token and its
// entropy. Inside a row, z = logits·invTemp, −Inf outside the row's support; p = softmax(z).
func (b *Backend) TokenLogProbs(logp, entropy, logits, tokens, support *core.Tensor, invTemp float32) {
	n, v := rows(logits)
	mustShape("token logprobs", logp, n)
	mustShape("token logprobs tokens", tokens, n)
	ent := optionalF32("token logprobs entropy", entropy, n)
	parallel(b, n, 16, tokenLogProbsBody{lp: f32(logp), ls: f32(logits), ent: ent, sup: supportOf("token logprobs", support, n, v), tk: i32(tokens),
		z: b.chunkF, v: v, invTemp: invTemp})
}

type tokenLogProbsBody struct {
	lp, ls, ent []float32
	sup, tk     []int32
	z           [][]float32 // per-chunk row buffers
	v           int
	invTemp     float32
}

func (c *tokenLogProbsBody) run(w, lo, hi int) {
	lp, ls, ent, tk, v, invTemp := c.lp, c.ls, c.ent, c.tk, c.v, c.invTemp
	z := chunkScratch(c.z, w, v)
	for r := lo; r < hi; r++ {
		temperedRow(z, ls[r*v:(r+1)*v], c.sup, r, invTemp)
		_, lse := logSumExp(z)
		t := int(tk[r])
		if t < 0 || t >= v {
			panic(fmt.Sprintf("cpu: token id %d out of range [0,%d)", t, v))
		}
		lp[r] = z[t] - lse
		if ent != nil {
			ent[r] = entropyOf(z, lse)
		}
	}
}

// TokenLogProbsBackward: with p = softmax(z), z = logits·invTemp (−Inf outside the support),
// d logp/dz = onehot − p and dH/dz_j = −p_j(log p_j + H); both are scaled by invTemp.
func (b *Backend) TokenLogProbsBackward(dLogits, dLogp, dEntropy, logits, tokens, support *core.Tensor, invTemp float32) {
	n, v := rows(logits)
	mustSameLen("token logprobs backward", dLogits, logits)
	mustShape("token logprobs backward dlogp", dLogp, n)
	de := optionalF32("token logprobs backward dentropy", dEntropy, n)
	parallel(b, n, 16, tokenLogProbsBwBody{dl: f32(dLogits), dp: f32(dLogp), ls: f32(logits), de: de, sup: supportOf("token logprobs backward", support, n, v),
		tk: i32(tokens), z: b.chunkF, v: v, invTemp: invTemp})
}

type tokenLogProbsBwBody struct {
	dl, dp, ls, de []float32
	sup, tk        []int32
	z              [][]float32 // per-chunk row buffers
	v              int
	invTemp        float32
}

func (c *tokenLogProbsBwBody) run(w, lo, hi int) {
	dl, dp, ls, de, tk, v, invTemp := c.dl, c.dp, c.ls, c.de, c.tk, c.v, c.invTemp
	z := chunkScratch(c.z, w, v)
	for r := lo; r < hi; r++ {
		temperedRow(z, ls[r*v:(r+1)*v], c.sup, r, invTemp)
		_, lse := logSumExp(z)
		var h, gh float32
		if de != nil {
			h, gh = entropyOf(z, lse), de[r]
		}
		g := dp[r]
		drow := dl[r*v : (r+1)*v]
		for j, zj := range z {
			lpj := zj - lse
			p := exp32(lpj)
			d := -g * p
			if p > 0 {
				d -= gh * p * (lpj + h)
			}
			drow[j] = d * invTemp
		}
		drow[tk[r]] += g * invTemp
	}
}

// temperedRow writes z = row·invTemp and adds −Inf at the tokens outside row r's support in
// the encoding sup (nil: every token is inside). Adding −Inf, rather than storing it, keeps a
// NaN logit NaN, as a dense additive mask did.
func temperedRow(z, row []float32, sup []int32, r int, invTemp float32) {
	for j, val := range row {
		z[j] = val * invTemp
	}
	if sup == nil {
		return
	}
	inf := float32(math.Inf(-1))
	e := core.SupportRow(sup, r)
	switch {
	case len(e) == 0:
	case e[0] < 0:
		z[-e[0]-1] += inf
	default:
		k := 0
		for j := range z {
			if k < len(e) && int(e[k]) == j {
				k++
				continue
			}
			z[j] += inf
		}
	}
}

// supportOf is the data of an optional support encoding of n rows over v tokens, nil when the
// tensor is nil; a malformed encoding panics, naming the op.
func supportOf(op string, t *core.Tensor, n, v int) []int32 {
	if t == nil {
		return nil
	}
	sup := i32(t)
	if err := core.CheckSupport(sup, n, v); err != nil {
		panic(fmt.Sprintf("cpu: %s: %v", op, err))
	}
	return sup
}

// entropyOf returns −Σ p log p for p = softmax(z) given z's logsumexp; masked (−Inf) entries
// contribute nothing.
func entropyOf(z []float32, lse float32) float32 {
	var h float64
	for _, zj := range z {
		if math.IsInf(float64(zj), -1) {
			continue
		}
		lpj := float64(zj - lse)
		h -= math.Exp(lpj) * lpj
	}
	return float32(h)
}

// optionalF32 is the data of an optional tensor of n elements, nil when the tensor is nil.
func optionalF32(op string, t *core.Tensor, n int) []float32 {
	if t == nil {
		return nil
	}
	mustLen(op, t, n)
	return f32(t)
}
