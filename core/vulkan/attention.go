//go:build linux && cgo

package vulkan

import (
	"github.com/dllmrl/agrpo/core"
)

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
