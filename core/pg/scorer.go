package pg

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
)

// scorer evaluates per-position log-probabilities of target tokens for a batch of R rows of S
// tokens and back-propagates a gradient given per position. The logits are never held whole:
// every pass runs the model's head over chunks of positions (model.Model.Logits), so memory for
// them is O(chunk × V) however many positions there are; positions that fit one chunk pay for
// the head once. Buffers are reused while the shape stays the same.
type scorer struct {
	r, s                     int
	tokens, keyMask, targets *core.Tensor
	rows                     *core.Tensor // [R·S]: the positions scored, a prefix used per call
	logp, dLogp              *core.Tensor
	hostLogp                 []float32
	// support holds the last logProbs call's support encoding (core.EncodeSupport) in its
	// first supLen entries; supLen is 0 when that call had none.
	support *core.Tensor
	supLen  int
	// The selection factor's buffers and the parameters of the last selection call, which
	// backward reuses.
	conf, kappa, rule, logF, dLogF *core.Tensor
	hostConf, hostLogF             []float32
	sel                            *core.SelectionParams
}

func (sc *scorer) ensure(b core.Backend, r, s int) {
	if sc.tokens != nil && sc.r == r && sc.s == s {
		return
	}
	if sc.tokens != nil {
		for _, t := range []*core.Tensor{sc.tokens, sc.keyMask, sc.targets, sc.rows, sc.logp, sc.dLogp,
			sc.conf, sc.kappa, sc.rule, sc.logF, sc.dLogF} {
			b.Free(t)
		}
	}
	sc.r, sc.s = r, s
	sc.tokens, sc.keyMask = b.Alloc(core.I32, r, s), b.Alloc(core.I32, r, s)
	sc.targets, sc.rows = b.Alloc(core.I32, r*s), b.Alloc(core.I32, r*s)
	sc.logp, sc.dLogp = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s)
	sc.hostLogp = make([]float32, r*s)
	sc.conf, sc.kappa, sc.rule = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s), b.Alloc(core.I32, r*s)
	sc.logF, sc.dLogF = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s)
	sc.hostConf, sc.hostLogF = make([]float32, r*s), make([]float32, r*s)
}

// upload puts a support encoding on the device, growing the buffer when it is too small.
func (sc *scorer) upload(b core.Backend, enc []int32) {
	sc.supLen = len(enc)
	if enc == nil {
		return
	}
	if sc.support == nil || sc.support.Len() < len(enc) {
		if sc.support != nil {
			b.Free(sc.support)
		}
		sc.support = b.Alloc(core.I32, len(enc)+len(enc)/2)
	}
	b.UploadInt(sc.support.Rows(0, len(enc)), enc)
}

// chunks calls f with every chunk [lo, hi) of the last Hidden's rows on m and their logits.
func (sc *scorer) chunks(m *model.Model, f func(lo, hi int, logits *core.Tensor)) {
	n, c := m.Rows(), m.MaxChunk()
	for lo := 0; lo < n; lo += c {
		hi := min(lo+c, n)
		f(lo, hi, m.Logits(lo, hi))
	}
}

// supportFrom is the support encoding read by the chunk of rows from lo (a view of its tail:
// the encoding's offsets are relative), or nil when the last logProbs call had none.
func (sc *scorer) supportFrom(lo int) *core.Tensor {
	if sc.supLen == 0 {
		return nil
	}
	if lo == 0 {
		return sc.support
	}
	return sc.support.Rows(lo, sc.supLen)
}

// logProbs runs m on tokens/keyMask [R·S] and returns log p(targets) at every position under
// softmax(logits·invTemp) on each position's support (support: core.EncodeSupport's encoding of
// R·S rows, or nil for every token) and, when withConf is set, log softmax(logits)(target) over
// the whole vocabulary, LLaDA's untempered confidence, in the same pass over the head's chunks
// (nil otherwise). Both are meaningful only at the positions in rows (flat indices into R·S;
// nil: every position), where alone the caller may read them and give gradients: the model
// computes its last block there only (model.HiddenRows). The model keeps its activations for
// backward.
func (sc *scorer) logProbs(m *model.Model, r, s int, tokens, keyMask, targets []int32, support []int32, invTemp float32, withConf bool, rows []int32) (lp, conf []float32) {
	b := m.B
	sc.ensure(b, r, s)
	b.UploadInt(sc.tokens, tokens)
	b.UploadInt(sc.keyMask, keyMask)
	b.UploadInt(sc.targets, targets)
	sc.upload(b, support)
	var rowsT *core.Tensor
	if len(rows) > 0 {
		rowsT = sc.rows.Part(0, len(rows))
		b.UploadInt(rowsT, rows)
	}
	m.HiddenRows(sc.tokens, sc.keyMask, rowsT)
	sc.sel = nil
	sc.chunks(m, func(lo, hi int, logits *core.Tensor) {
		targets := sc.targets.Part(lo, hi)
		b.TokenLogProbs(sc.logp.Part(lo, hi), nil, logits, targets, sc.supportFrom(lo), invTemp)
		if withConf {
			b.TokenLogProbs(sc.conf.Part(lo, hi), nil, logits, targets, nil, 1)
		}
	})
	b.Download(sc.logp, sc.hostLogp)
	if !withConf {
		return sc.hostLogp, nil
	}
	b.Download(sc.conf, sc.hostConf)
	return sc.hostLogp, sc.hostConf
}

// selection returns log F (core.Backend.SelectionLogProbs) at every position of the last
// logProbs call on m, under that call's support, with κ and the tie rule given per position.
func (sc *scorer) selection(m *model.Model, kappa []float32, rule []int32, p core.SelectionParams) []float32 {
	b := m.B
	b.Upload(sc.kappa, kappa)
	b.UploadInt(sc.rule, rule)
	sc.sel = &p
	sc.chunks(m, func(lo, hi int, logits *core.Tensor) {
		b.SelectionLogProbs(sc.logF.Part(lo, hi), logits, sc.supportFrom(lo), sc.kappa.Part(lo, hi), sc.rule.Part(lo, hi), p)
	})
	b.Download(sc.logF, sc.hostLogF)
	return sc.hostLogF
}

// backward accumulates into m.Grads the gradient of Σ dLogp·logp (+ Σ dLogF·log F when dLogF
// is not nil, for the last selection call) for the last logProbs call on m (another model may
// have run in between: each model keeps its own activations), chunk by chunk of positions:
// each chunk's logits are recomputed unless they are the ones the model holds.
func (sc *scorer) backward(m *model.Model, dLogp, dLogF []float32, invTemp float32) {
	b := m.B
	b.Upload(sc.dLogp, dLogp)
	if dLogF != nil {
		b.Upload(sc.dLogF, dLogF)
	}
	sc.chunks(m, func(lo, hi int, logits *core.Tensor) {
		dLogits, targets := m.DLogits(lo, hi), sc.targets.Part(lo, hi)
		b.TokenLogProbsBackward(dLogits, sc.dLogp.Part(lo, hi), nil, logits, targets, sc.supportFrom(lo), invTemp)
		if dLogF != nil {
			b.SelectionLogProbsBackward(dLogits, sc.dLogF.Part(lo, hi), logits, sc.supportFrom(lo),
				sc.kappa.Part(lo, hi), sc.rule.Part(lo, hi), *sc.sel)
		}
		m.HeadBackward(dLogits, lo, hi)
	})
	m.BackwardHidden()
}
