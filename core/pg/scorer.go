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
}

func (sc *scorer) ensure(b core.Backend, r, s, v int) {
	if sc.tokens != nil && sc.r == r && sc.s == s && sc.v == v {
		return
	}
	if sc.tokens != nil {
		for _, t := range []*core.Tensor{sc.tokens, sc.keyMask, sc.targets, sc.bias, sc.logp, sc.dLogp, sc.dLogits} {
			b.Free(t)
		}
	}
	sc.r, sc.s, sc.v = r, s, v
	sc.tokens, sc.keyMask = b.Alloc(core.I32, r, s), b.Alloc(core.I32, r, s)
	sc.targets, sc.bias = b.Alloc(core.I32, r*s), b.Alloc(core.F32, r*s, v)
	sc.logp, sc.dLogp = b.Alloc(core.F32, r*s), b.Alloc(core.F32, r*s)
	sc.dLogits = b.Alloc(core.F32, r, s, v)
	sc.hostLogp = make([]float32, r*s)
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
	b.TokenLogProbs(sc.logp, nil, sc.logits.Reshape(r*s, v), sc.targets, biasT, invTemp)
	b.Download(sc.logp, sc.hostLogp)
	return sc.hostLogp
}

// backward accumulates into m.Grads the gradient of Σ dLogp·logp for the last logProbs call on
// m (another model may have run in between: each model keeps its own activations).
func (sc *scorer) backward(m *model.Model, dLogp []float32, withBias bool, invTemp float32) {
	b, v := m.B, m.Cfg.VocabSize
	b.Upload(sc.dLogp, dLogp)
	var biasT *core.Tensor
	if withBias {
		biasT = sc.bias
	}
	b.TokenLogProbsBackward(sc.dLogits.Reshape(sc.r*sc.s, v), sc.dLogp, nil, sc.logits.Reshape(sc.r*sc.s, v), sc.targets, biasT, invTemp)
	m.Backward(sc.dLogits)
}
