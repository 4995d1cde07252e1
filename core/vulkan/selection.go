//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

// SelectionLogProbs writes the log selection factor of each row, one workgroup per row.
func (b *Backend) SelectionLogProbs(logF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	n, sb := b.selectionInputs(logits, support, kappa, rule)
	mustLen("selection logF", logF, n)
	selectionShader.dispatch(b, opSpec{forward}, "selection", rowGroups(n), selectionPushOf(n, logits, support, p),
		vk.Write(b.buf(logF)), b.unused(), vk.Read(b.buf(logits)), sb, vk.Read(b.buf(kappa)), vk.Read(b.buf(rule)))
}

// SelectionLogProbsBackward adds the selection factor's gradient into dLogits, one workgroup per
// row.
func (b *Backend) SelectionLogProbsBackward(dLogits, dLogF, logits, support, kappa, rule *core.Tensor, p core.SelectionParams) {
	mustSameLen("selection backward", dLogits, logits)
	n, sb := b.selectionInputs(logits, support, kappa, rule)
	mustLen("selection backward dlogF", dLogF, n)
	selectionShader.dispatch(b, opSpec{backward}, "selection backward", rowGroups(n), selectionPushOf(n, logits, support, p),
		vk.Write(b.buf(dLogits)), vk.Read(b.buf(dLogF)), vk.Read(b.buf(logits)), sb, vk.Read(b.buf(kappa)), vk.Read(b.buf(rule)))
}

// selectionInputs checks the inputs both directions share and returns the row count and the
// support's binding (optional).
func (b *Backend) selectionInputs(logits, support, kappa, rule *core.Tensor) (int, vk.Binding) {
	n, _ := rows(logits)
	mustType("selection rule", rule, core.I32)
	mustLen("selection rule", rule, n)
	mustLen("selection kappa", kappa, n)
	return n, b.supportBinding("selection support", support, n)
}

// selectionPushOf is the push constants both directions share.
func selectionPushOf(n int, logits, support *core.Tensor, p core.SelectionParams) selectionPush {
	return selectionPush{Rows: uint32(n), V: uint32(logits.Dim(-1)), InvTemp: p.InvTemp, HasSupport: flag(support != nil),
		Untempered: flag(p.Confidence == core.Untempered), Tol: p.Tol}
}
