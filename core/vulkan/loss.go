//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

func mustLen(op string, t *core.Tensor, n int) {
	if t.Len() != n {
		panic(fmt.Sprintf("vulkan: %s: %v has %d elements, want %d", op, t, t.Len(), n))
	}
}

// CrossEntropy writes the weighted summed loss and, optionally, its gradient: a pass per row
// into a scratch vector of row losses, then an ordered sum of them (deterministic).
func (b *Backend) CrossEntropy(loss, dLogits, logits, targets, weights *core.Tensor) {
	n, v := rows(logits)
	mustType("cross-entropy targets", targets, core.I32)
	mustLen("cross-entropy targets", targets, n)
	mustLen("cross-entropy weights", weights, n)
	mustLen("cross-entropy loss", loss, 1)
	dl := b.optional("cross-entropy dlogits", dLogits, logits.Len(), true)
	rowLoss := b.Alloc(core.F32, max(n, 1))
	defer b.Free(rowLoss)
	rl := b.buf(rowLoss)
	crossentropyShader.dispatch(b, opSpec{forward}, "cross-entropy", rowGroups(n),
		crossentropyPush{Rows: uint32(n), V: uint32(v), Grad: flag(dLogits != nil)},
		dl, vk.Write(rl), vk.Read(b.buf(logits)), vk.Read(b.buf(targets)), vk.Read(b.buf(weights)))
	crossentropyShader.dispatch(b, opSpec{backward}, "cross-entropy sum", [3]uint32{1, 1, 1},
		crossentropyPush{Rows: uint32(n), V: uint32(v)},
		vk.Write(b.buf(loss)), vk.Read(rl), b.unused(), b.unused(), b.unused())
}

// TokenLogProbs writes each row's log-probability of its token and, optionally, the entropy of
// p = softmax(logits·invTemp) on each row's support, one workgroup per row.
func (b *Backend) TokenLogProbs(logp, entropy, logits, tokens, support *core.Tensor, invTemp float32) {
	n, sb := b.tokenLogProbsInputs(logits, tokens, support)
	mustLen("token logprobs", logp, n)
	tokenlogprobsShader.dispatch(b, opSpec{forward}, "token logprobs", rowGroups(n),
		tokenlogprobsPush{Rows: uint32(n), V: uint32(logits.Dim(-1)), InvTemp: invTemp, HasSupport: flag(support != nil), HasEnt: flag(entropy != nil)},
		vk.Write(b.buf(logp)), b.optional("token logprobs entropy", entropy, n, true), b.unused(),
		vk.Read(b.buf(logits)), vk.Read(b.buf(tokens)), sb)
}

// TokenLogProbsBackward writes dLogits from dLogp and an optional dEntropy, one workgroup per
// row.
func (b *Backend) TokenLogProbsBackward(dLogits, dLogp, dEntropy, logits, tokens, support *core.Tensor, invTemp float32) {
	mustSameLen("token logprobs backward", dLogits, logits)
	n, sb := b.tokenLogProbsInputs(logits, tokens, support)
	mustLen("token logprobs backward dlogp", dLogp, n)
	tokenlogprobsShader.dispatch(b, opSpec{backward}, "token logprobs backward", rowGroups(n),
		tokenlogprobsPush{Rows: uint32(n), V: uint32(logits.Dim(-1)), InvTemp: invTemp, HasSupport: flag(support != nil), HasEnt: flag(dEntropy != nil)},
		vk.Write(b.buf(dLogits)), vk.Read(b.buf(dLogp)), b.optional("token logprobs backward dentropy", dEntropy, n, false),
		vk.Read(b.buf(logits)), vk.Read(b.buf(tokens)), sb)
}

// tokenLogProbsInputs checks the inputs both token log-prob ops share and returns the row
// count and the support's binding (optional).
func (b *Backend) tokenLogProbsInputs(logits, tokens, support *core.Tensor) (int, vk.Binding) {
	n, _ := rows(logits)
	mustType("token logprobs tokens", tokens, core.I32)
	mustLen("token logprobs tokens", tokens, n)
	return n, b.supportBinding("token logprobs support", support, n)
}

// supportBinding binds an optional support encoding of n rows (core.EncodeSupport), or the
// unused stand-in when there is none. The shader trusts the encoding's offsets, so its header is
// checked on the host side by type and length only: the entries are the caller's
// (core.CheckSupport).
func (b *Backend) supportBinding(op string, support *core.Tensor, n int) vk.Binding {
	if support == nil {
		return b.unused()
	}
	mustType(op, support, core.I32)
	if support.Len() < n+1 {
		panic(fmt.Sprintf("vulkan: %s: %v has fewer than the %d entries of its header", op, support, n+1))
	}
	return vk.Read(b.buf(support))
}

// clipnorm.comp's partial sums per gradient (its SLOTS).
const clipSlots = 64

// ClipGradNorm measures the global L2 norm and rescales the grads on the device: partial sums
// of squares per gradient, an ordered final sum into norm[0], then a scale pass per gradient
// that reads the norm there (no host round trip).
func (b *Backend) ClipGradNorm(norm *core.Tensor, grads []*core.Tensor, maxNorm float32) {
	mustLen("clip norm", norm, 1)
	nb := b.buf(norm)
	partial := b.Alloc(core.F32, max(len(grads), 1)*clipSlots)
	defer b.Free(partial)
	pb := b.buf(partial)
	for i, g := range grads {
		n := g.Len()
		if n == 0 {
			continue
		}
		groups := [3]uint32{uint32(min((n+255)/256, clipSlots)), 1, 1}
		clipnormShader.dispatch(b, opSpec{0}, "clip norm partial", groups, clipnormPush{N: uint32(n), Slot: uint32(i)},
			vk.Read(b.buf(g)), vk.Write(pb), b.unused())
	}
	clipnormShader.dispatch(b, opSpec{1}, "clip norm", [3]uint32{1, 1, 1}, clipnormPush{N: uint32(len(grads) * clipSlots)},
		b.unused(), vk.Read(pb), vk.Write(nb))
	if maxNorm <= 0 {
		return
	}
	for _, g := range grads {
		n := g.Len()
		if n == 0 {
			continue
		}
		clipnormShader.dispatch(b, opSpec{2}, "clip scale", groups1D(n), clipnormPush{N: uint32(n), MaxNorm: maxNorm},
			vk.Write(b.buf(g)), b.unused(), vk.Read(nb))
	}
}
