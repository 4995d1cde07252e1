//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// SelectionLogProbs writes the log selection factor of each row, one workgroup per row.
func (b *Backend) SelectionLogProbs(logF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	n, xb, bb := b.selectionInputs(logits, support, kappa, rule)
	mustLen("selection logF", logF, n)
	b.dispatch(b.pipeline("selection", forward), "selection", rowGroups(n), selectionPush(n, logits, support, p),
		vk.Write(b.buf(logF)), vk.Read(xb), vk.Read(xb), vk.Read(bb), vk.Read(b.buf(kappa)), vk.Read(b.buf(rule)))
}

// SelectionLogProbsBackward adds the selection factor's gradient into dLogits, one workgroup per
// row.
func (b *Backend) SelectionLogProbsBackward(dLogits, dLogF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	mustSameLen("selection backward", dLogits, logits)
	n, xb, bb := b.selectionInputs(logits, support, kappa, rule)
	mustLen("selection backward dlogF", dLogF, n)
	b.dispatch(b.pipeline("selection", backward), "selection backward", rowGroups(n), selectionPush(n, logits, support, p),
		vk.Write(b.buf(dLogits)), vk.Read(b.buf(dLogF)), vk.Read(xb), vk.Read(bb), vk.Read(b.buf(kappa)), vk.Read(b.buf(rule)))
}

// selectionInputs checks the inputs both directions share and returns the row count, the
// logits' buffer and the support's buffer (the logits' own, unread, when there is no support).
func (b *Backend) selectionInputs(logits, support, kappa, rule *core.Tensor) (int, vk.Buffer, vk.Buffer) {
	n, _ := rows(logits)
	mustType("selection rule", rule, core.I32)
	mustLen("selection rule", rule, n)
	mustLen("selection kappa", kappa, n)
	xb := b.buf(logits)
	return n, xb, b.supportBuf("selection support", support, n, xb)
}

func selectionPush(n int, logits, support *core.Tensor, p core.SelectionParams) []byte {
	return push(n, logits.Dim(-1), p.InvTemp, support != nil, p.Confidence == core.Untempered, p.Tol)
}
