//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/vk"
)

const (
	// unmaskRecord is the words of unmask.comp's per-item record (struct Rec).
	unmaskRecord = 8
	// unmaskSerialV is the largest vocabulary drawn by one invocation per position: up to it, a
	// workgroup's reductions (barriers) cost more than they share out.
	unmaskSerialV = 64
)

// UnmaskStep runs one sampler step on the device (see core.Backend), in two dispatches over the
// items (row, position) of the current block, one workgroup per item (one invocation for a
// small vocabulary): the first draws each still-masked position's token and scores it into a
// scratch record, the second ranks each drawn position within its row and reveals the p.Reveal
// best. Nothing is read back, so a whole sampling loop stays on the device. The semantics are
// the CPU backend's; unmask.comp says where fp32 can differ from it (near-ties, and ties that
// only rounding breaks).
func (b *Backend) UnmaskStep(s core.UnmaskState, logits *core.Tensor, p core.UnmaskParams) {
	if err := s.Check(logits, p); err != nil {
		panic("vulkan: unmask step: " + err.Error())
	}
	nb, seq := s.Tokens.Dim(0), s.Tokens.Dim(1)
	c, v := seq-p.PromptLen, logits.Dim(2)
	items := nb * (p.BlockEnd - p.BlockStart)
	if items == 0 {
		return
	}
	// The host decides what the CPU decides per draw, so the shader only tests flags: 1/T in
	// float32 as the CPU rounds it, greedy for T ≤ 0, top-k only when it removes something.
	greedy := !(p.Temperature > 0)
	invT := float32(1)
	if !greedy {
		invT = 1 / p.Temperature
	}
	topK := 0
	if p.TopK > 0 && p.TopK < v-1 {
		topK = p.TopK
	}
	topP := float32(0)
	if p.TopP > 0 && p.TopP < 1 {
		topP = p.TopP
	}
	pc := unmaskPush{Rows: uint32(nb), Seq: uint32(seq), C: uint32(c), V: uint32(v), PromptLen: uint32(p.PromptLen),
		BlockStart: uint32(p.BlockStart), BlockLen: uint32(p.BlockEnd - p.BlockStart), Reveal: uint32(p.Reveal), Step: uint32(p.Step),
		InvTemp: invT, Greedy: flag(greedy), TopK: uint32(topK), TopP: topP, Remasking: uint32(p.Remasking), Seed: p.Seed,
		MaskID: uint32(p.MaskID), HasSupport: flag(s.Support != nil),
		Untempered: flag(p.Remasking == core.LowConfidence && p.Confidence == core.Untempered), RowOffset: uint32(p.RowOffset)}

	// A small vocabulary is one invocation's work, 64 items per workgroup and no barriers; a
	// larger one gets a workgroup of 128 or 256 invocations per item (unmask.comp's LANES).
	wg, lanes := uint32(64), uint32(1)
	if v > unmaskSerialV {
		wg = 128
		if v > 128 {
			wg = 256
		}
		lanes = wg
	}
	rec := b.Alloc(core.F32, items*unmaskRecord)
	defer b.Free(rec)
	rb := b.buf(rec)
	xb, tb, sb, lb, eb, ab := b.buf(logits), b.buf(s.Tokens), b.buf(s.RevealStep), b.buf(s.LogP), b.buf(s.Entropy), b.buf(s.Active)
	groups := rowGroups(items)
	if lanes == 1 {
		groups = rowGroups((items + int(wg) - 1) / int(wg))
	}
	unmaskShader.dispatch(b, unmaskSpec{Op: unmaskDraw, WG: wg, Lanes: lanes}, "unmask draw", groups, pc,
		vk.Write(rb), vk.Read(xb), vk.Read(ab), vk.Read(tb), vk.Read(sb), vk.Read(lb), vk.Read(eb), b.unused())
	unmaskShader.dispatch(b, unmaskSpec{Op: unmaskReveal, WG: wg, Lanes: lanes}, "unmask reveal", groups, pc,
		vk.Read(rb), vk.Read(xb), vk.Read(ab), vk.Write(tb), vk.Write(sb), vk.Write(lb), vk.Write(eb),
		b.optional("unmask support", s.Support, items*v, true))
}
