package cpu

import (
	"iter"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

// attnTile is the default query and key tile length of the attention kernels.
const attnTile = 64

// attnTiles returns the backend's attention tile length.
func (b *Backend) attnTiles() int {
	if b.attnTile > 0 {
		return b.attnTile
	}
	return attnTile
}

// Attention runs one (batch row, head) pair per task, one query tile at a time: for each key
// tile, scores S = q·kᵀ/√Dh with padding keys at −Inf update a running row max and sum (online
// softmax), rescale the output rows and add exp(S − max)·v; the rows are normalised at the end.
// Only the row log-sum-exp is kept for the backward, which recomputes P. Scratch is one
// tile×tile block per worker, whatever the sequence length. With grouped-query attention the
// head reads its key/value head's columns of k and v, whose rows are Hkv·Dh wide.
func (b *Backend) Attention(out, lse, q, k, v, keyMask *core.Tensor, heads int) {
	d, err := core.AttentionShape(out, lse, q, k, v, keyMask, heads)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	nb, seq, dm, hd := d.Batch, d.Seq, d.Model, d.HeadDim
	parallel(b, nb*heads, 1, attentionBody{qs: f32(q), ks: f32(k), vs: f32(v), os: f32(out), ls: f32(lse), km: i32(keyMask),
		scratch: b.chunkF, sums: b.chunkF2, seq: seq, dm: dm, kdm: d.KVModel, group: d.Group(), hd: hd, heads: heads, tile: b.attnTiles(),
		scale: float32(1 / math.Sqrt(float64(hd)))})
}

type attentionBody struct {
	qs, ks, vs, os, ls       []float32
	km                       []int32
	scratch, sums            [][]float32 // per-chunk score tile and row sums
	seq, dm, hd, heads, tile int
	kdm, group               int // k and v row width Hkv·Dh, query heads per key/value head
	scale                    float32
}

func (t *attentionBody) run(w, lo, hi int) {
	qs, ks, vs, os, ls, km := t.qs, t.ks, t.vs, t.os, t.ls, t.km
	seq, dm, kdm, hd, heads, scale := t.seq, t.dm, t.kdm, t.hd, t.heads, t.scale
	tq, tk := min(t.tile, seq), min(t.tile, seq)
	s := chunkScratch(t.scratch, w, tq*tk)
	sums := chunkScratch(t.sums, w, tq)
	neg := float32(math.Inf(-1))
	for task := lo; task < hi; task++ {
		bi, h := task/heads, task%heads
		base, kbase := bi*seq*dm+h*hd, bi*seq*kdm+(h/t.group)*hd
		mask := km[bi*seq : (bi+1)*seq]
		lrow := ls[(bi*heads+h)*seq : (bi*heads+h+1)*seq]
		for q0, nq := range tiles(seq, tq) {
			mx, sum := lrow[q0:q0+nq], sums[:nq] // mx holds the running max until the end
			for i := range nq {
				mx[i], sum[i] = neg, 0
			}
			qb, ob := base+q0*dm, base+q0*dm
			for k0, nk := range tiles(seq, tk) {
				kb := kbase + k0*kdm
				gemm.SgemmSerial(false, true, nq, nk, hd, scale, qs[qb:], dm, ks[kb:], kdm, 0, s, nk)
				for i := range nq {
					row := s[i*nk : (i+1)*nk]
					maskRow(row, mask[k0:k0+nk])
					m := max(mx[i], vecmath.Max(row))
					if math.IsInf(float64(m), -1) { // no real key yet: the row stays 0
						clear(row)
						continue
					}
					alpha := float32(0)
					if !math.IsInf(float64(mx[i]), -1) {
						alpha = exp32(mx[i] - m)
					}
					sum[i] = sum[i]*alpha + vecmath.ExpSubSum(row, row, m)
					mx[i] = m
					if k0 > 0 && alpha != 1 {
						orow := os[ob+i*dm : ob+i*dm+hd]
						for d := range orow {
							orow[d] *= alpha
						}
					}
				}
				beta := float32(1)
				if k0 == 0 {
					beta = 0
				}
				gemm.SgemmSerial(false, false, nq, hd, nk, 1, s, nk, vs[kb:], kdm, beta, os[ob:], dm)
			}
			for i := range nq {
				orow := os[ob+i*dm : ob+i*dm+hd]
				if sum[i] == 0 { // no real key: out 0, lse −Inf
					clear(orow)
					mx[i] = neg
					continue
				}
				inv := 1 / sum[i]
				for d := range orow {
					orow[d] *= inv
				}
				mx[i] += float32(math.Log(float64(sum[i])))
			}
		}
	}
}

// AttentionBackward recomputes P from lse tile by tile, then with dP = dOut·vᵀ and
// dS = P ⊙ (dP − rowsum(dOut ⊙ out)): dq = dS·k/√Dh, dk = dSᵀ·q/√Dh, dv = Pᵀ·dOut, each
// accumulated over the key (dq) or query (dk, dv) tiles. A task is one key/value head: it walks
// the query heads that share it in turn, so their dk and dv add up without a race.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *core.Tensor, heads int) {
	d, err := core.AttentionBackwardShape(dq, dk, dv, dOut, q, k, v, out, lse, keyMask, heads)
	if err != nil {
		panic("cpu: " + err.Error())
	}
	nb, seq, dm, hd := d.Batch, d.Seq, d.Model, d.HeadDim
	parallel(b, nb*d.KVHeads, 1, attentionBwBody{qs: f32(q), ks: f32(k), vs: f32(v), os: f32(out), ls: f32(lse), km: i32(keyMask),
		dqs: f32(dq), dks: f32(dk), dvs: f32(dv), dos: f32(dOut), scratch: b.chunkF, scratch2: b.chunkF2,
		seq: seq, dm: dm, kdm: d.KVModel, group: d.Group(), hd: hd, heads: heads, tile: b.attnTiles(),
		scale: float32(1 / math.Sqrt(float64(hd)))})
}

type attentionBwBody struct {
	qs, ks, vs, os, ls       []float32
	km                       []int32
	dqs, dks, dvs, dos       []float32
	scratch, scratch2        [][]float32 // per-chunk P and dP tiles (dP's buffer also holds D)
	seq, dm, hd, heads, tile int
	kdm, group               int // as in attentionBody
	scale                    float32
}

func (t *attentionBwBody) run(w, lo, hi int) {
	qs, ks, vs, os, ls, km := t.qs, t.ks, t.vs, t.os, t.ls, t.km
	dqs, dks, dvs, dos := t.dqs, t.dks, t.dvs, t.dos
	seq, dm, kdm, hd, heads, group, scale := t.seq, t.dm, t.kdm, t.hd, t.heads, t.group, t.scale
	tq, tk := min(t.tile, seq), min(t.tile, seq)
	p := chunkScratch(t.scratch, w, tq*tk)
	dpBuf := chunkScratch(t.scratch2, w, tq*tk+tq)
	dp, di := dpBuf[:tq*tk], dpBuf[tq*tk:]
	kvHeads := heads / group
	for task := lo; task < hi; task++ {
		bi, kh := task/kvHeads, task%kvHeads
		kbase := bi*seq*kdm + kh*hd
		mask := km[bi*seq : (bi+1)*seq]
		for h := kh * group; h < (kh+1)*group; h++ {
			base := bi*seq*dm + h*hd
			lrow := ls[(bi*heads+h)*seq : (bi*heads+h+1)*seq]
			for q0, nq := range tiles(seq, tq) {
				qb := base + q0*dm
				for i := range nq {
					var d float32
					for c := 0; c < hd; c++ {
						d += dos[qb+i*dm+c] * os[qb+i*dm+c]
					}
					di[i] = d
				}
				for k0, nk := range tiles(seq, tk) {
					kb := kbase + k0*kdm
					gemm.SgemmSerial(false, true, nq, nk, hd, scale, qs[qb:], dm, ks[kb:], kdm, 0, p, nk)
					for i := range nq {
						row := p[i*nk : (i+1)*nk]
						if math.IsInf(float64(lrow[q0+i]), -1) { // no real key: P is 0, and so are its gradients
							clear(row)
							continue
						}
						maskRow(row, mask[k0:k0+nk])
						vecmath.ExpSubSum(row, row, lrow[q0+i])
					}
					gemm.SgemmSerial(false, true, nq, nk, hd, 1, dos[qb:], dm, vs[kb:], kdm, 0, dp, nk)
					for i := range nq {
						prow, dprow := p[i*nk:(i+1)*nk], dp[i*nk:(i+1)*nk]
						for j := range dprow {
							dprow[j] = prow[j] * (dprow[j] - di[i])
						}
					}
					betaQ, betaK := float32(1), float32(1)
					if k0 == 0 {
						betaQ = 0
					}
					if q0 == 0 && h == kh*group { // the group's first head writes dk, dv; the others add
						betaK = 0
					}
					gemm.SgemmSerial(false, false, nq, hd, nk, scale, dp, nk, ks[kb:], kdm, betaQ, dqs[qb:], dm)
					gemm.SgemmSerial(true, false, nk, hd, nq, scale, dp, nk, qs[qb:], dm, betaK, dks[kb:], kdm)
					gemm.SgemmSerial(true, false, nk, hd, nq, 1, p, nk, dos[qb:], dm, betaK, dvs[kb:], kdm)
				}
			}
		}
	}
}

// tiles yields the tiles of [0, n) of length t, the last one shorter if t does not divide n, as
// start and length.
func tiles(n, t int) iter.Seq2[int, int] {
	return func(yield func(start, length int) bool) {
		for s := 0; s < n; s += t {
			if !yield(s, min(t, n-s)) {
				return
			}
		}
	}
}

// maskRow sets the scores of padding keys to −Inf, which the exponential turns into 0.
func maskRow(s []float32, mask []int32) {
	for j := range s {
		if mask[j] == 0 {
			s[j] = float32(math.Inf(-1))
		}
	}
}
