//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
)

// HostOps lists the ops that have no shader yet and run on the CPU backend through a host round
// trip: the tensors they touch are downloaded (which runs the queued work), the CPU backend runs
// the op, and the outputs are uploaded again. Correct, but it costs a device wait per call.
var HostOps = []string{
	"Attention", "AttentionBackward", "UnmaskStep",
}

// onHost runs fn on CPU copies of the tensors: outs are downloaded too (ops may accumulate
// into them) and uploaded back afterwards; ins are only read. Nil tensors stay nil.
func (b *Backend) onHost(outs, ins []*core.Tensor, fn func(h core.Backend, m func(*core.Tensor) *core.Tensor)) {
	copies := map[*core.Tensor]*core.Tensor{}
	for _, t := range append(append([]*core.Tensor(nil), outs...), ins...) {
		if t == nil || copies[t] != nil {
			continue
		}
		h := b.host.Alloc(t.DType(), t.Shape()...)
		if t.DType() == core.I32 {
			v := make([]int32, t.Len())
			b.DownloadInt(t, v)
			b.host.UploadInt(h, v)
		} else {
			v := make([]float32, t.Len())
			b.Download(t, v)
			b.host.Upload(h, v)
		}
		copies[t] = h
	}
	fn(b.host, func(t *core.Tensor) *core.Tensor {
		if t == nil {
			return nil
		}
		return copies[t]
	})
	for _, t := range outs {
		if t == nil {
			continue
		}
		h := copies[t]
		if t.DType() == core.I32 {
			v := make([]int32, t.Len())
			b.host.DownloadInt(h, v)
			b.UploadInt(t, v)
		} else {
			v := make([]float32, t.Len())
			b.host.Download(h, v)
			b.Upload(t, v)
		}
	}
}

// Attention runs on the host (no shader yet).
func (b *Backend) Attention(out, lse, q, k, v, keyMask *core.Tensor, heads int) {
	b.onHost([]*core.Tensor{out, lse}, []*core.Tensor{q, k, v, keyMask}, func(h core.Backend, m func(*core.Tensor) *core.Tensor) {
		h.Attention(m(out), m(lse), m(q), m(k), m(v), m(keyMask), heads)
	})
}

// AttentionBackward runs on the host (no shader yet).
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *core.Tensor, heads int) {
	b.onHost([]*core.Tensor{dq, dk, dv}, []*core.Tensor{dOut, q, k, v, out, lse, keyMask}, func(h core.Backend, m func(*core.Tensor) *core.Tensor) {
		h.AttentionBackward(m(dq), m(dk), m(dv), m(dOut), m(q), m(k), m(v), m(out), m(lse), m(keyMask), heads)
	})
}

// UnmaskStep runs on the host (no shader yet).
func (b *Backend) UnmaskStep(s core.UnmaskState, logits *core.Tensor, p core.UnmaskParams) {
	outs := []*core.Tensor{s.Tokens, s.RevealStep, s.LogP, s.Entropy, s.Support}
	b.onHost(outs, []*core.Tensor{logits, s.Active}, func(h core.Backend, m func(*core.Tensor) *core.Tensor) {
		hs := core.UnmaskState{Tokens: m(s.Tokens), RevealStep: m(s.RevealStep), LogP: m(s.LogP), Entropy: m(s.Entropy), Support: m(s.Support), Active: m(s.Active)}
		h.UnmaskStep(hs, m(logits), p)
	})
}
