// Package sft is the masked-diffusion supervised loss of LLaDA (its SFT recipe): noise only the
// answer — each answer token masked independently with probability t, t ~ U(0,1) clipped away
// from 0 — keep the prompt clean, and take the cross-entropy on the masked positions weighted
// 1/t and normalised by the answer length (EOS padding counts as answer), averaged over rows.
package sft

import (
	"fmt"
	"math/rand/v2"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
)

// MinMaskProb is LLaDA's eps: p_mask = (1 − eps)·t + eps, so no row has t ≈ 0 and weight ≈ ∞.
const MinMaskProb = 1e-3

// Example is one training pair: a prompt left-padded to a fixed length (with its key mask,
// 1 = real token) and an answer right-padded with EOS to a fixed length.
type Example struct {
	Prompt, PromptMask, Answer []int32
}

// Noised is a masked batch ready for the model: tokens and key mask [B, P+C], targets and
// weights [B·(P+C)] for the weighted cross-entropy.
type Noised struct {
	B, S                      int
	Tokens, KeyMask, Targets  []int32
	Weights                   []float32
	MaskedTokens, AnswerTotal int // for logging: how many answer tokens were masked, of how many
}

// Noise masks a batch: row b draws t_b ~ U(0,1), p_b = (1−eps)t_b + eps, masks each answer token
// with probability p_b and gives it weight 1/(p_b · C · B), so the weighted cross-entropy sum
// is LLaDA's SFT loss for the batch.
func Noise(batch []Example, maskID int32, rng *rand.Rand) (*Noised, error) {
	if len(batch) == 0 {
		return nil, fmt.Errorf("sft: empty batch")
	}
	p, c := len(batch[0].Prompt), len(batch[0].Answer)
	s := p + c
	n := &Noised{B: len(batch), S: s, Tokens: make([]int32, len(batch)*s), KeyMask: make([]int32, len(batch)*s),
		Targets: make([]int32, len(batch)*s), Weights: make([]float32, len(batch)*s)}
	for r, ex := range batch {
		if len(ex.Prompt) != p || len(ex.PromptMask) != p || len(ex.Answer) != c {
			return nil, fmt.Errorf("sft: example %d has prompt %d/answer %d tokens, want %d/%d like the first", r, len(ex.Prompt), len(ex.Answer), p, c)
		}
		pm := (1-MinMaskProb)*rng.Float64() + MinMaskProb
		w := float32(1 / (pm * float64(c) * float64(len(batch))))
		row := r * s
		copy(n.Tokens[row:], ex.Prompt)
		copy(n.KeyMask[row:], ex.PromptMask)
		copy(n.Targets[row:], ex.Prompt)
		for j, tok := range ex.Answer {
			i := row + p + j
			n.Targets[i], n.Tokens[i], n.KeyMask[i] = tok, tok, 1
			if rng.Float64() < pm {
				n.Tokens[i], n.Weights[i] = maskID, w
				n.MaskedTokens++
			}
		}
		n.AnswerTotal += c
	}
	return n, nil
}

// Rows is the part of the batch in rows [lo, hi), sharing n's memory: the share of a rank of a
// data-parallel job, whose weights keep the whole batch's normalisation so that the parts'
// losses and gradients sum to the whole batch's.
func (n *Noised) Rows(lo, hi int) *Noised {
	s := n.S
	part := &Noised{B: hi - lo, S: s, Tokens: n.Tokens[lo*s : hi*s], KeyMask: n.KeyMask[lo*s : hi*s],
		Targets: n.Targets[lo*s : hi*s], Weights: n.Weights[lo*s : hi*s], AnswerTotal: n.AnswerTotal / n.B * (hi - lo)}
	for _, w := range part.Weights {
		if w != 0 {
			part.MaskedTokens++
		}
	}
	return part
}

// Step runs forward, the weighted cross-entropy and backward for a noised batch on m,
// accumulating into m.Grads, and returns the loss. The head runs chunk by chunk of positions
// (model.Model.Logits), so the logits never take more than a chunk's memory; each chunk's loss
// is its own entry, summed on the host. Device buffers are kept in bufs between calls (pass the
// same *Buffers each step).
func Step(m *model.Model, n *Noised, bufs *Buffers) float64 {
	b := m.B
	b.UploadInt(bufs.ensure(b, n.B, n.S, 0).tokens, n.Tokens)
	b.UploadInt(bufs.keyMask, n.KeyMask)
	b.UploadInt(bufs.targets, n.Targets)
	b.Upload(bufs.weights, n.Weights)
	m.Hidden(bufs.tokens, bufs.keyMask)
	rows, c := n.B*n.S, m.MaxChunk()
	chunks := (rows + c - 1) / c
	bufs.ensure(b, n.B, n.S, chunks)
	for i := range chunks {
		lo, hi := i*c, min((i+1)*c, rows)
		dLogits := m.DLogits(lo, hi)
		b.CrossEntropy(bufs.loss.Part(i, i+1), dLogits, m.Logits(lo, hi), bufs.targets.Part(lo, hi), bufs.weights.Part(lo, hi))
		m.HeadBackward(dLogits, lo, hi)
	}
	m.BackwardHidden()
	v := make([]float32, chunks)
	b.Download(bufs.loss, v)
	var loss float64
	for _, x := range v {
		loss += float64(x)
	}
	return loss
}

// Buffers are the device tensors Step reuses across calls.
type Buffers struct {
	b, s                              int
	tokens, keyMask, targets, weights *core.Tensor
	loss                              *core.Tensor // one entry per chunk of the head
}

// ensure sizes the buffers for b rows of s tokens and, when chunks > 0, the loss for that many
// chunks; it returns bf.
func (bf *Buffers) ensure(be core.Backend, b, s, chunks int) *Buffers {
	if bf.tokens == nil || bf.b != b || bf.s != s {
		if bf.tokens != nil {
			for _, t := range []*core.Tensor{bf.tokens, bf.keyMask, bf.targets, bf.weights} {
				be.Free(t)
			}
		}
		bf.b, bf.s = b, s
		bf.tokens, bf.keyMask = be.Alloc(core.I32, b, s), be.Alloc(core.I32, b, s)
		bf.targets, bf.weights = be.Alloc(core.I32, b*s), be.Alloc(core.F32, b*s)
	}
	if chunks > 0 && (bf.loss == nil || bf.loss.Len() != chunks) {
		if bf.loss != nil {
			be.Free(bf.loss)
		}
		bf.loss = be.Alloc(core.F32, chunks)
	}
	return bf
}
