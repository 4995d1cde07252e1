package cpu

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

type ropeKey struct {
	seq, headDim int
	theta        float32
}

// ropeTable returns cos and sin for every (position, frequency) pair, laid out as
// [pos]{cos[0:half], sin[0:half]} so that a head's halves rotate as whole vectors, computed
// once per shape in float64 for accuracy and cached.
func (b *Backend) ropeTable(seq, headDim int, theta float32) []float32 {
	key := ropeKey{seq, headDim, theta}
	b.ropeMu.Lock()
	defer b.ropeMu.Unlock()
	if t, ok := b.rope[key]; ok {
		return t
	}
	half := headDim / 2
	t := make([]float32, seq*half*2)
	for p := 0; p < seq; p++ {
		for i := 0; i < half; i++ {
			t[p*2*half+i], t[p*2*half+half+i] = core.RoPECosSin(p, i, headDim, theta)
		}
	}
	b.rope[key] = t
	return t
}

// RoPE rotates each head's pairs (i, i+Dh/2) by the position's angles.
func (b *Backend) RoPE(x *core.Tensor, heads int, theta float32) { b.rotate(x, heads, theta, 1) }

// RoPEBackward rotates by the negative angles: the transpose of the forward rotation.
func (b *Backend) RoPEBackward(dx *core.Tensor, heads int, theta float32) {
	b.rotate(dx, heads, theta, -1)
}

func (b *Backend) rotate(x *core.Tensor, heads int, theta float32, sign float32) {
	if x.Rank() != 3 || x.Dim(2)%(2*heads) != 0 {
		panic("cpu: rope needs x [B, L, H·Dh] with even head size, got " + x.String())
	}
	nb, seq, dm := x.Dim(0), x.Dim(1), x.Dim(2)
	hd := dm / heads
	tab := b.ropeTable(seq, hd, theta)
	parallel(b, nb*seq, 16, ropeBody{xs: f32(x), tab: tab, seq: seq, dm: dm, hd: hd, heads: heads, sign: sign})
}

type ropeBody struct {
	xs, tab            []float32
	seq, dm, hd, heads int
	sign               float32
}

func (t *ropeBody) run(_, lo, hi int) {
	xs, tab, seq, dm, hd, heads, sign := t.xs, t.tab, t.seq, t.dm, t.hd, t.heads, t.sign
	half := hd / 2
	for r := lo; r < hi; r++ {
		p := r % seq
		cos, sin := tab[p*2*half:p*2*half+half], tab[p*2*half+half:(p+1)*2*half]
		for h := 0; h < heads; h++ {
			v := xs[r*dm+h*hd : r*dm+(h+1)*hd]
			vecmath.Rotate(v[:half], v[half:], cos, sin, sign)
		}
	}
}
