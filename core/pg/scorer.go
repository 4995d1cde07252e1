package pg

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
)

// scorer evaluates per-position log-probabilities of target tokens for a batch of R rows of S
// tokens and back-propagates a gradient given per position. Buffers are reused while the
// shape stays the same.
type scorer struct {
	r, s, v                        int
	tokens, keyMask, targets, bias *core.Tensor
	logp, dLogp, dLogits           *core.Tensor
	logits                         *core.Tensor // the model's output of the last logProbs
	hostLogp                       []float32
	// The selection factor's buffers and the parameters of the last selection call, which
	// backward reuses.
	conf, kappa, rule, logF, dLogF *core.Tensor
	hostConf, hostLogF             []float32
	sel                            *core.SelectionParams
}

func (sc *scorer) ensure(b core.Backend, r, s, v int) {
	if sc.tokens != nil && sc.r == r && sc.s == s && sc.v == v {
		return
	}
	if sc.tokens != nil {
		for _, t := range []*core.Tensor{sc.tokens, sc.keyMask, sc.targets, sc.bias, sc.logp, sc.dLogp, sc.dLogits,
			sc.conf, sc.kappa, sc.rule, sc.logF, sc.dLogF} {
			b.Free(t)
		}
	}
	sc.r, sc.s, sc.v = r, s, v
	sc.tokens, sc.keyMask = b.Alloc(core.I32, r, s), b.Alloc(core.I32, r, s)
	sc.targets, sc.bias = b.Alloc(core.I32, r*s), b.Alloc(core.F32, r*s, v)
	sc.logp, sc.dLogp = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s)
	sc.dLogits = b.Alloc(core.F32, r, s, v)
	sc.hostLogp = make([]float32, r*s)
	sc.conf, sc.kappa, sc.rule = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s), b.Alloc(core.I32, r*s)
	sc.logF, sc.dLogF = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s)
	sc.hostConf, sc.hostLogF = make([]float32, r*s), make([]float32, r*s)
}

// logProbs runs m on tokens/keyMask [R·S] and returns log p(targets) at every position under
// softmax(logits·invTemp + bias) (bias [R·S·V] or nil). The model keeps its activations for
// backward.
func (sc *scorer) logProbs(m *model.Model, r, s int, tokens, keyMask, targets []int32, bias []float32, invTemp float32) []float32 {
	b, v := m.B, m.Cfg.VocabSize
	sc.ensure(b, r, s, v)
	b.UploadInt(sc.tokens, tokens)
	b.UploadInt(sc.keyMask, keyMask)
	b.UploadInt(sc.targets, targets)
	var biasT *core.Tensor
	if bias != nil {
		b.Upload(sc.bias, bias)
		biasT = sc.bias
	}
	sc.logits = m.Forward(sc.tokens, sc.keyMask)
	sc.sel = nil
	b.TokenLogProbs(sc.logp, nil, sc.logits.Reshape(r*s, v), sc.targets, biasT, invTemp)
	b.Download(sc.logp, sc.hostLogp)
	return sc.hostLogp
}

// untemperedConf returns, for the last logProbs call on m, log softmax(logits)(target) over the
// whole vocabulary at every position: LLaDA's confidence.
func (sc *scorer) untemperedConf(m *model.Model) []float32 {
	b := m.B
	b.TokenLogProbs(sc.conf, nil, sc.logits.Reshape(sc.r*sc.s, sc.v), sc.targets, nil, 1)
	b.Download(sc.conf, sc.hostConf)
	return sc.hostConf
}

// selection returns log F (core.Backend.SelectionLogProbs) at every position of the last
// logProbs call on m, under that call's bias, with κ and the tie rule given per position.
func (sc *scorer) selection(m *model.Model, kappa []float32, rule []int32, p core.SelectionParams) []float32 {
	b := m.B
	b.Upload(sc.kappa, kappa)
	b.UploadInt(sc.rule, rule)
	sc.sel = &p
	b.SelectionLogProbs(sc.logF, sc.logits.Reshape(sc.r*sc.s, sc.v), sc.bias, sc.kappa, sc.rule, p)
	b.Download(sc.logF, sc.hostLogF)
	return sc.hostLogF
}

// backward accumulates into m.Grads the gradient of Σ dLogp·logp (+ Σ dLogF·log F when dLogF
// is not nil, for the last selection call) for the last logProbs call on m (another model may
// have run in between: each model keeps its own activations).
func (sc *scorer) backward(m *model.Model, dLogp, dLogF []float32, withBias bool, invTemp float32) {
	b, v := m.B, m.Cfg.VocabSize
	b.Upload(sc.dLogp, dLogp)
	var biasT *core.Tensor
	if withBias {
		biasT = sc.bias
	}
	dLogits, logits := sc.dLogits.Reshape(sc.r*sc.s, v), sc.logits.Reshape(sc.r*sc.s, v)
	b.TokenLogProbsBackward(dLogits, sc.dLogp, nil, logits, sc.targets, biasT, invTemp)
	if dLogF != nil {
		b.Upload(sc.dLogF, dLogF)
		b.SelectionLogProbsBackward(dLogits, sc.dLogF, logits, sc.bias, sc.kappa, sc.rule, *sc.sel)
	}
	m.Backward(sc.dLogits)
}
