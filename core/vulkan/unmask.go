//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
)

// UnmaskStep runs on the host (no shader yet).
func (b *Backend) UnmaskStep(s core.UnmaskState, logits *core.Tensor, p core.UnmaskParams) {
	outs := []*core.Tensor{s.Tokens, s.RevealStep, s.LogP, s.Entropy, s.Support}
	b.onHost(outs, []*core.Tensor{logits, s.Active}, func(h core.Backend, m func(*core.Tensor) *core.Tensor) {
		hs := core.UnmaskState{Tokens: m(s.Tokens), RevealStep: m(s.RevealStep), LogP: m(s.LogP), Entropy: m(s.Entropy), Support: m(s.Support), Active: m(s.Active)}
		h.UnmaskStep(hs, m(logits), p)
	})
}
