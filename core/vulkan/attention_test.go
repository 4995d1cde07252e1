//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// attnCase is one attention shape with its key mask pattern.
type attnCase struct {
	nb, seq, heads, hd int
	// pad: "none", "some" (random padding keys, at least one real key per row) or "row" (as
	// "some", but batch row 0 is all padding).
	pad string
	// kv is the number of key/value heads (grouped-query attention); 0 means heads.
	kv int
}

// kvHeads is the case's number of key/value heads.
func (c attnCase) kvHeads() int {
	if c.kv == 0 {
		return c.heads
	}
	return c.kv
}

// TestAttentionMatchesCPU runs the attention shaders against the CPU backend on shapes the shared
// suite does not reach: odd and long sequences, head dims that are not a multiple of 4 and up
// to the maximum, several heads, and a batch row with no real key at all.
func TestAttentionMatchesCPU(t *testing.T) {
	cases := []attnCase{
		{1, 1, 1, 1, "none", 0},
		{2, 5, 2, 3, "some", 0},
		{3, 9, 3, 5, "row", 0},
		{2, 33, 4, 12, "some", 0},
		{2, 64, 4, 32, "some", 0},
		{2, 25, 4, 32, "row", 0},
		{1, 70, 2, 64, "some", 0},
		{1, 40, 1, 128, "some", 0},
		{2, 17, 2, 127, "row", 0},
		// Grouped-query attention: 2 and 4 query heads per key/value head, and one for all.
		{nb: 2, seq: 33, heads: 4, hd: 12, pad: "some", kv: 2},
		{nb: 3, seq: 21, heads: 8, hd: 16, pad: "row", kv: 2},
		{nb: 1, seq: 40, heads: 3, hd: 32, pad: "some", kv: 1},
	}
	if !testing.Short() {
		cases = append(cases, attnCase{1, 1024, 1, 32, "some", 0}, attnCase{1, 200, 2, 128, "some", 0})
	}
	vb := newTest(t)
	for i, c := range cases {
		t.Run(fmt.Sprintf("B%d_L%d_H%d_Hkv%d_Dh%d_%s", c.nb, c.seq, c.heads, c.kvHeads(), c.hd, c.pad), func(t *testing.T) {
			checkAttention(t, vb, c, uint64(i))
		})
	}
}

// TestAttentionTiles runs every tile specialisation on one shape (partial tiles on both sides,
// a head dim that is not a multiple of 4, a batch row with no real key), so that each (RQ, RK)
// of every pass is exercised, not only those the device's shared memory picks. Each
// specialisation is a pipeline that lavapipe compiles on first use (about a second), hence one
// shape, and none under -short.
func TestAttentionTiles(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles 21 pipelines")
	}
	vb := newTest(t)
	defer func() { attnForceTiles = [2]int{} }()
	c := attnCase{nb: 2, seq: 19, heads: 4, hd: 9, pad: "row", kv: 2}
	for _, tiles := range attnTileChoices {
		attnForceTiles = tiles
		t.Run(fmt.Sprintf("RQ%d_RK%d", tiles[0], tiles[1]), func(t *testing.T) {
			checkAttention(t, vb, c, 7)
		})
	}
}

// TestAttentionHeadDimLimit checks the clear panic for a head dim the shaders cannot take.
func TestAttentionHeadDimLimit(t *testing.T) {
	vb := newTest(t)
	hd := attnMaxHeadDim + 4
	q := vb.Alloc(core.F32, 1, 2, hd)
	lse := vb.Alloc(core.F32, 1, 1, 2)
	km := vb.Alloc(core.I32, 1, 2)
	defer func() {
		msg := fmt.Sprint(recover())
		if want := fmt.Sprintf("head dim %d > max %d", hd, attnMaxHeadDim); !strings.Contains(msg, want) {
			t.Errorf("panic %q, want one containing %q", msg, want)
		}
	}()
	vb.Attention(q, lse, q, q, q, km, 1)
}

// checkAttention runs the forward and backward on both backends from the same random inputs and
// compares every output. Batch rows with no real key are compared to what the CPU backend's
// forward gives (out 0, lse −Inf) and must get zero gradients.
func checkAttention(t *testing.T, vb *Backend, c attnCase, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	dm, kdm := c.heads*c.hd, c.kvHeads()*c.hd
	randv := func(scale float64, width int) []float32 {
		v := make([]float32, c.nb*c.seq*width)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * scale)
		}
		return v
	}
	// Scores of a few units, so that the softmax is neither flat nor one-hot.
	qv, kv, vv, gv := randv(2, dm), randv(2, kdm), randv(1, kdm), randv(1, dm)
	mask := make([]int32, c.nb*c.seq)
	empty := make([]bool, c.nb)
	for bi := range c.nb {
		row := mask[bi*c.seq : (bi+1)*c.seq]
		for j := range row {
			row[j] = 1
			if c.pad != "none" && rng.IntN(3) == 0 {
				row[j] = 0
			}
		}
		if c.pad != "none" {
			row[rng.IntN(c.seq)] = 1
		}
		if c.pad == "row" && bi == 0 {
			clear(row)
			empty[0] = true
		}
	}

	cb := cpu.New()
	type outs struct{ out, lse, dq, dk, dv []float32 }
	run := func(be core.Backend) outs {
		up := func(v []float32, width int) *core.Tensor {
			x := be.Alloc(core.F32, c.nb, c.seq, width)
			be.Upload(x, v)
			return x
		}
		q, k, v, g := up(qv, dm), up(kv, kdm), up(vv, kdm), up(gv, dm)
		km := be.Alloc(core.I32, c.nb, c.seq)
		be.UploadInt(km, mask)
		out := be.Alloc(core.F32, c.nb, c.seq, dm)
		lse := be.Alloc(core.F32, c.nb, c.heads, c.seq)
		dq, dk, dv := be.Alloc(core.F32, c.nb, c.seq, dm), be.Alloc(core.F32, c.nb, c.seq, kdm), be.Alloc(core.F32, c.nb, c.seq, kdm)
		be.Attention(out, lse, q, k, v, km, c.heads)
		be.AttentionBackward(dq, dk, dv, g, q, k, v, out, lse, km, c.heads)
		down := func(x *core.Tensor) []float32 {
			r := make([]float32, x.Len())
			be.Download(x, r)
			be.Free(x)
			return r
		}
		o := outs{down(out), down(lse), down(dq), down(dk), down(dv)}
		for _, x := range []*core.Tensor{q, k, v, g, km} {
			be.Free(x)
		}
		return o
	}
	want, got := run(cb), run(vb)
	if err := vb.Sync(); err != nil {
		t.Fatal(err)
	}

	// split returns the values of the batch rows that have real keys, and those that do not.
	split := func(x []float32) (real, none []float32) {
		per := len(x) / c.nb
		for bi := range c.nb {
			if empty[bi] {
				none = append(none, x[bi*per:(bi+1)*per]...)
			} else {
				real = append(real, x[bi*per:(bi+1)*per]...)
			}
		}
		return real, none
	}
	for _, f := range []struct {
		name      string
		got, want []float32
		tol       float64
	}{
		{"out", got.out, want.out, 2e-5},
		{"lse", got.lse, want.lse, 2e-5},
		{"dq", got.dq, want.dq, 1e-4},
		{"dk", got.dk, want.dk, 1e-4},
		{"dv", got.dv, want.dv, 1e-4},
	} {
		g, gNone := split(f.got)
		w, wNone := split(f.want)
		if err := relDiff(g, w); !(err <= f.tol) {
			t.Errorf("%s: relative difference %.3g from the CPU backend > %.3g", f.name, err, f.tol)
		}
		for i, x := range gNone {
			var want float32 // gradients of a row with no real key: 0
			switch f.name {
			case "out", "lse":
				want = wNone[i] // the CPU's forward: out 0, lse −Inf
			}
			if x != want {
				t.Errorf("%s of a batch row with no real key: [%d] = %g, want %g", f.name, i, x, want)
				break
			}
		}
	}
}

// relDiff is ‖got − want‖ / max(‖want‖, 1e-3), after checking that both have −Inf in the same
// places (the lse of a query with no real key), which it then skips.
func relDiff(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		gi, wi := float64(got[i]), float64(want[i])
		if math.IsInf(wi, -1) || math.IsInf(gi, -1) {
			if gi != wi {
				return math.Inf(1)
			}
			continue
		}
		num += (gi - wi) * (gi - wi)
		den += wi * wi
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-3)
}
