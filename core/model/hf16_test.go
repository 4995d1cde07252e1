package model

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// f16Folder copies the F32 fixture folder and replaces its weights with random IEEE halves of
// moderate size (|x| in [1/8, 1), random sign), so that the F16 path has a folder to load.
func f16Folder(t *testing.T) string {
	dir := copyHF(t, "llada-tiny-f32")
	rng := rand.New(rand.NewPCG(16, 16))
	rewriteShard(t, filepath.Join(dir, safetensors.SingleName), func(ts map[string]safetensors.Tensor) {
		for n, x := range ts {
			data := make([]byte, len(x.Data)/2)
			for i := 0; i < len(data); i += 2 {
				h := uint16(rng.UintN(1<<16))&0x83ff | uint16(12+rng.IntN(3))<<10
				binary.LittleEndian.PutUint16(data[i:], h)
			}
			ts[n] = safetensors.Tensor{DType: safetensors.F16, Shape: x.Shape, Data: data}
		}
	})
	return dir
}

// TestLoadDir16 checks that weights kept 16-bit compute what the same weights widened to
// float32 compute: the logits and every parameter gradient equal bit for bit on the CPU backend
// (the matmuls widen B exactly while packing and accumulate in float32, the embedding widens
// exactly), for BF16 and F16 folders; and that every 2-D weight is held 16-bit, halving them.
func TestLoadDir16(t *testing.T) {
	RunLoadDir16(t, func() core.Backend { return cpu.New() }, 0)
}

// RunLoadDir16 is TestLoadDir16 on backends from newBackend, with the logits and gradients
// within tol relative (‖16-bit − widened‖∞ / ‖widened‖∞; 0: bit for bit). The Vulkan backend's
// tests call it too.
func RunLoadDir16(t *testing.T, newBackend func() core.Backend, tol float64) {
	for _, c := range []struct {
		name string
		dir  string
		dt   core.DType
	}{
		{"bf16", filepath.Join(hfDir, "llada-tiny-bf16"), core.BF16},
		{"f16", f16Folder(t), core.F16},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend()
			wide, err := LoadDir(c.dir, b)
			if err != nil {
				t.Fatal(err)
			}
			narrow, err := LoadDir16(c.dir, b)
			if err != nil {
				t.Fatal(err)
			}
			cfg := wide.Config
			var bytes32, bytes16 int
			for _, n := range narrow.Params.List(cfg) {
				want := core.F32
				if n.Tensor.Rank() == 2 {
					want = c.dt
					bytes32 += 4 * n.Tensor.Len()
					bytes16 += 2 * n.Tensor.Len()
				}
				if n.Tensor.DType() != want {
					t.Fatalf("%s is %v, want %v", n.Name, n.Tensor.DType(), want)
				}
			}
			in := readFixture(t, filepath.Join(hfDir, "parity-bf16"), "inputs.safetensors")
			run := func(ck *Checkpoint) (logits []float32, grads [][]float32) {
				m := New(b, cfg, ck.Params)
				m.AllocGrads()
				tokShape := in.Tensors["tokens"].Shape
				up := func(name string) *core.Tensor {
					v, err := in.Tensors[name].Int32()
					if err != nil {
						t.Fatal(err)
					}
					x := b.Alloc(core.I32, tokShape...)
					b.UploadInt(x, v)
					return x
				}
				out := m.Forward(up("tokens"), up("key_mask"))
				logits = make([]float32, out.Len())
				b.Download(out, logits)
				// A fixed, non-trivial upstream gradient: the backward reads every weight too.
				dl := make([]float32, out.Len())
				for i := range dl {
					dl[i] = float32(math.Sin(float64(i)))
				}
				d := b.Alloc(core.F32, out.Shape()...)
				b.Upload(d, dl)
				m.Backward(d)
				for _, g := range m.Grads.List(cfg) {
					v := make([]float32, g.Tensor.Len())
					b.Download(g.Tensor, v)
					grads = append(grads, v)
				}
				return logits, grads
			}
			lw, gw := run(wide)
			ln, gn := run(narrow)
			same := func(what string, got, want []float32) {
				t.Helper()
				var diff, mag float64
				for i := range want {
					if tol == 0 && math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s [%d]: %g with 16-bit weights, %g widened", what, i, got[i], want[i])
					}
					diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
					mag = math.Max(mag, math.Abs(float64(want[i])))
				}
				if !(diff <= tol*mag) {
					t.Fatalf("%s: max difference %.3g with 16-bit weights (of %.3g): over %g relative", what, diff, mag, tol)
				}
			}
			same("logits", ln, lw)
			names := cfg.Shapes()
			for k := range gw {
				same("gradient of "+names[k].Name, gn[k], gw[k])
			}
			t.Logf("%s: 2-D weights %d bytes 16-bit, %d widened", c.name, bytes16, bytes32)
		})
	}
}
