//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/half"
)

// TestMatMul16 runs matmul.comp with a 16-bit weight (BF16 and F16, B16 = 1 and 2) on both of its
// kernels, and embedding.comp with a 16-bit table, against the CPU backend on the same 16-bit
// values: linear layers in both transposes (the model's forward x·Wᵀ and backward dy·W), odd
// widths and an odd element count, a split-K product, alpha and beta.
func TestMatMul16(t *testing.T) {
	vb := newTest(t)
	defer func() { matmulForceTiled = false }()
	host := cpu.New()
	rng := rand.New(rand.NewPCG(16, 1))
	for _, tiled := range []bool{false, true} {
		matmulForceTiled = tiled
		for _, dt := range []core.DType{core.BF16, core.F16} {
			for _, c := range []struct{ m, n, k int }{{5, 7, 3}, {33, 65, 17}, {64, 384, 128}, {3, 5, 4096}} {
				for _, transB := range []bool{false, true} {
					name := fmt.Sprintf("tiled %v %v %v transB %v", tiled, dt, c, transB)
					wShape := []int{c.k, c.n}
					if transB {
						wShape = []int{c.n, c.k}
					}
					av, cv := randSlice(rng, c.m*c.k), randSlice(rng, c.m*c.n)
					w16 := make([]uint16, c.k*c.n)
					for i := range w16 {
						x := rng.Float32()*2 - 1
						w16[i] = half.Float32ToBF16(x)
						if dt == core.F16 { // a random finite half of moderate size
							w16[i] = uint16(rng.UintN(1<<16))&0x83ff | uint16(12+rng.IntN(4))<<10
						}
					}
					var outs [2][]float32
					for i, be := range []core.Backend{vb, host} {
						a, w, cc := be.Alloc(core.F32, c.m, c.k), be.Alloc(dt, wShape...), be.Alloc(core.F32, c.m, c.n)
						be.Upload(a, av)
						be.Upload16(w, w16)
						be.Upload(cc, cv)
						be.MatMul(cc, a, w, false, transB, 0.5, 0.75)
						outs[i] = make([]float32, cc.Len())
						be.Download(cc, outs[i])
					}
					if rel := relDiff(outs[0], outs[1]); !(rel < 1e-5) {
						t.Errorf("%s: relative error %.3g from the CPU backend", name, rel)
					}
				}
			}
			// The embedding, on a table with an odd element count (a padded last word), of every
			// kind of value: zeros, subnormals, normals, infinities and NaNs.
			const v, d, n = 7, 5, 9
			tab := make([]uint16, v*d)
			for i := range tab {
				tab[i] = uint16(rng.UintN(1 << 16))
			}
			tab[0], tab[1], tab[2], tab[3] = 0x0001, 0x8001, 0x8000, 0x03ff // subnormals, −0
			ids := make([]int32, n)
			for i := range ids {
				ids[i] = int32(rng.IntN(v))
			}
			ids[0] = 0 // the row with the subnormals
			var outs [2][]float32
			for i, be := range []core.Backend{vb, host} {
				table, idt, out := be.Alloc(dt, v, d), be.Alloc(core.I32, n), be.Alloc(core.F32, n, d)
				be.Upload16(table, tab)
				be.UploadInt(idt, ids)
				be.Embedding(out, table, idt)
				outs[i] = make([]float32, out.Len())
				be.Download(out, outs[i])
				back := make([]float32, table.Len()) // and the download widens it
				be.Download(table, back)
				for j, h := range tab {
					want := half.BF16ToFloat32(h)
					if dt == core.F16 {
						want = half.F16ToFloat32(h)
					}
					if back[j] != want && !(back[j] != back[j] && want != want) {
						t.Fatalf("%v download [%d] = %g, want %g", dt, j, back[j], want)
					}
				}
			}
			for i := range outs[0] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) && !(outs[0][i] != outs[0][i] && outs[1][i] != outs[1][i]) {
					t.Fatalf("%v embedding [%d] = %g, the CPU backend gives %g", dt, i, outs[0][i], outs[1][i])
				}
			}
		}
	}
	if err := vb.Sync(); err != nil {
		t.Fatal(err)
	}
}
