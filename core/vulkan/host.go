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
