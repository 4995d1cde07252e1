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
	xb := b.buf(logits)
	dl, grad := xb, false
	if dLogits != nil {
		mustSameLen("cross-entropy dlogits", dLogits, logits)
		dl, grad = b.buf(dLogits), true
	}
	rowLoss := b.Alloc(core.F32, max(n, 1))
	defer b.Free(rowLoss)
	rl, tb, wb := b.buf(rowLoss), b.buf(targets), b.buf(weights)
	bind := func(o vk.Buffer, w bool) []vk.Binding {
		first := vk.Read(o)
		if w {
			first = vk.Write(o)
		}
		return []vk.Binding{first, vk.Write(rl), vk.Read(xb), vk.Read(tb), vk.Read(wb)}
	}
	b.dispatch(b.pipeline("crossentropy", forward), "cross-entropy", rowGroups(n), push(n, v, grad), bind(dl, grad)...)
	b.dispatch(b.pipeline("crossentropy", backward), "cross-entropy sum", [3]uint32{1, 1, 1}, push(n, v, false), bind(b.buf(loss), true)...)
}

// TokenLogProbs writes each row's log-probability of its token and, optionally, the entropy of
// p = softmax(logits·invTemp) on each row's support, one workgroup per row.
func (b *Backend) TokenLogProbs(logp, entropy, logits, tokens, support *core.Tensor, invTemp float32) {
	n, xb, sb := b.tokenLogProbsInputs(logits, tokens, support)
	mustLen("token logprobs", logp, n)
	eb := b.optionalBuf("token logprobs entropy", entropy, n, xb)
	second := vk.Read(eb)
	if entropy != nil {
		second = vk.Write(eb)
	}
	b.dispatch(b.pipeline("tokenlogprobs", forward), "token logprobs", rowGroups(n),
		push(n, logits.Dim(-1), invTemp, support != nil, entropy != nil),
		vk.Write(b.buf(logp)), second, vk.Read(xb), vk.Read(xb), vk.Read(b.buf(tokens)), vk.Read(sb))
}

// TokenLogProbsBackward writes dLogits from dLogp and an optional dEntropy, one workgroup per
// row.
func (b *Backend) TokenLogProbsBackward(dLogits, dLogp, dEntropy, logits, tokens, support *core.Tensor, invTemp float32) {
	mustSameLen("token logprobs backward", dLogits, logits)
	n, xb, sb := b.tokenLogProbsInputs(logits, tokens, support)
	mustLen("token logprobs backward dlogp", dLogp, n)
	deb := b.optionalBuf("token logprobs backward dentropy", dEntropy, n, xb)
	b.dispatch(b.pipeline("tokenlogprobs", backward), "token logprobs backward", rowGroups(n),
		push(n, logits.Dim(-1), invTemp, support != nil, dEntropy != nil),
		vk.Write(b.buf(dLogits)), vk.Read(b.buf(dLogp)), vk.Read(deb), vk.Read(xb), vk.Read(b.buf(tokens)), vk.Read(sb))
}

// tokenLogProbsInputs checks the inputs both token log-prob ops share and returns the row
// count, the logits' buffer and the support's buffer (the logits' own, unread, when there is
// no support).
func (b *Backend) tokenLogProbsInputs(logits, tokens, support *core.Tensor) (int, vk.Buffer, vk.Buffer) {
	n, _ := rows(logits)
	mustType("token logprobs tokens", tokens, core.I32)
	mustLen("token logprobs tokens", tokens, n)
	xb := b.buf(logits)
	return n, xb, b.supportBuf("token logprobs support", support, n, xb)
}

// supportBuf is the buffer of an optional support encoding of n rows (core.EncodeSupport), or
// stand when there is none. The shader trusts the encoding's offsets, so its header is checked
// on the host side by type and length only: the entries are the caller's (core.CheckSupport).
func (b *Backend) supportBuf(op string, support *core.Tensor, n int, stand vk.Buffer) vk.Buffer {
	if support == nil {
		return stand
	}
	mustType(op, support, core.I32)
	if support.Len() < n+1 {
		panic(fmt.Sprintf("vulkan: %s: %v has fewer than the %d entries of its header", op, support, n+1))
	}
	return b.buf(support)
}

// optionalBuf is t's buffer after a length check, or stand, a buffer bound in its place that the
// shader is told not to touch, when t is nil.
func (b *Backend) optionalBuf(op string, t *core.Tensor, n int, stand vk.Buffer) vk.Buffer {
	if t == nil {
		return stand
	}
	mustLen(op, t, n)
	return b.buf(t)
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
		b.dispatch(b.pipeline("clipnorm", 0), "clip norm partial", groups, push(n, i, float32(0)),
			vk.Read(b.buf(g)), vk.Write(pb), vk.Read(nb))
	}
	b.dispatch(b.pipeline("clipnorm", 1), "clip norm", [3]uint32{1, 1, 1}, push(len(grads)*clipSlots, 0, float32(0)),
		vk.Read(pb), vk.Read(pb), vk.Write(nb))
	if maxNorm <= 0 {
		return
	}
	for _, g := range grads {
		n := g.Len()
		if n == 0 {
			continue
		}
		b.dispatch(b.pipeline("clipnorm", 2), "clip scale", groups1D(n), push(n, 0, maxNorm),
			vk.Write(b.buf(g)), vk.Read(pb), vk.Read(nb))
	}
}
