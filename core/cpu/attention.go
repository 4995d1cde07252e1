package cpu

import (
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

// Attention runs one (batch row, head) pair per task: scores S = q·kᵀ/√Dh with padding keys at
// −Inf, P = softmax(S), out = P·v. Only the row log-sum-exp is kept for the backward, which
// recomputes P; the L×L scores live in per-worker scratch.
func (b *Backend) Attention(out, lse, q, k, v, keyMask *core.Tensor, heads int) {
	nb, seq, dm, hd := attnDims("attention", q, heads)
	mustShape("attention k", k, nb, seq, dm)
	mustShape("attention v", v, nb, seq, dm)
	mustShape("attention out", out, nb, seq, dm)
	mustShape("attention lse", lse, nb, heads, seq)
	mustShape("attention key mask", keyMask, nb, seq)
	qs, ks, vs, os, ls, km := f32(q), f32(k), f32(v), f32(out), f32(lse), i32(keyMask)
	scale := float32(1 / math.Sqrt(float64(hd)))
	b.parallel(nb*heads, 1, func(lo, hi int) {
		sp := b.scratchBuf(seq * seq)
		defer b.release(sp)
		s := (*sp)[:seq*seq]
		for task := lo; task < hi; task++ {
			bi, h := task/heads, task%heads
			base := bi*seq*dm + h*hd
			mask := km[bi*seq : (bi+1)*seq]
			gemm.SgemmSerial(false, true, seq, seq, hd, scale, qs[base:], dm, ks[base:], dm, 0, s, seq)
			lrow := ls[(bi*heads+h)*seq : (bi*heads+h+1)*seq]
			for i := 0; i < seq; i++ {
				lrow[i] = softmaxMasked(s[i*seq:(i+1)*seq], mask)
			}
			gemm.SgemmSerial(false, false, seq, hd, seq, 1, s, seq, vs[base:], dm, 0, os[base:], dm)
		}
	})
}

// AttentionBackward recomputes P from lse, then with dP = dOut·vᵀ and
// dS = P ⊙ (dP − rowsum(dOut ⊙ out)): dq = dS·k/√Dh, dk = dSᵀ·q/√Dh, dv = Pᵀ·dOut.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *core.Tensor, heads int) {
	nb, seq, dm, hd := attnDims("attention backward", q, heads)
	for _, t := range []*core.Tensor{dq, dk, dv, dOut, k, v, out} {
		mustShape("attention backward", t, nb, seq, dm)
	}
	mustShape("attention backward lse", lse, nb, heads, seq)
	mustShape("attention backward key mask", keyMask, nb, seq)
	qs, ks, vs, os, ls, km := f32(q), f32(k), f32(v), f32(out), f32(lse), i32(keyMask)
	dqs, dks, dvs, dos := f32(dq), f32(dk), f32(dv), f32(dOut)
	scale := float32(1 / math.Sqrt(float64(hd)))
	b.parallel(nb*heads, 1, func(lo, hi int) {
		sp := b.scratchBuf(2 * seq * seq)
		defer b.release(sp)
		p, dp := (*sp)[:seq*seq], (*sp)[seq*seq:2*seq*seq]
		for task := lo; task < hi; task++ {
			bi, h := task/heads, task%heads
			base := bi*seq*dm + h*hd
			mask := km[bi*seq : (bi+1)*seq]
			lrow := ls[(bi*heads+h)*seq : (bi*heads+h+1)*seq]
			gemm.SgemmSerial(false, true, seq, seq, hd, scale, qs[base:], dm, ks[base:], dm, 0, p, seq)
			for i := 0; i < seq; i++ {
				row := p[i*seq : (i+1)*seq]
				maskRow(row, mask)
				vecmath.ExpSubSum(row, row, lrow[i])
			}
			gemm.SgemmSerial(false, true, seq, seq, hd, 1, dos[base:], dm, vs[base:], dm, 0, dp, seq)
			for i := 0; i < seq; i++ {
				var di float32
				for d := 0; d < hd; d++ {
					di += dos[base+i*dm+d] * os[base+i*dm+d]
				}
				prow, dprow := p[i*seq:(i+1)*seq], dp[i*seq:(i+1)*seq]
				for j := range dprow {
					dprow[j] = prow[j] * (dprow[j] - di)
				}
			}
			gemm.SgemmSerial(false, false, seq, hd, seq, scale, dp, seq, ks[base:], dm, 0, dqs[base:], dm)
			gemm.SgemmSerial(true, false, seq, hd, seq, scale, dp, seq, qs[base:], dm, 0, dks[base:], dm)
			gemm.SgemmSerial(true, false, seq, hd, seq, 1, p, seq, dos[base:], dm, 0, dvs[base:], dm)
		}
	})
}

// maskRow sets the scores of padding keys to −Inf, which the exponential turns into 0.
func maskRow(s []float32, mask []int32) {
	for j := range s {
		if mask[j] == 0 {
			s[j] = float32(math.Inf(-1))
		}
	}
}

// softmaxMasked turns a row of scores into probabilities in place, padding keys getting 0, and
// returns the log-sum-exp over the real keys (−Inf when there is none: the row is then all 0).
func softmaxMasked(s []float32, mask []int32) float32 {
	maskRow(s, mask)
	mx := float32(math.Inf(-1))
	for _, v := range s {
		mx = max(mx, v)
	}
	if math.IsInf(float64(mx), -1) {
		clear(s)
		return mx
	}
	sum := vecmath.ExpSubSum(s, s, mx)
	inv := 1 / sum
	for j := range s {
		s[j] *= inv
	}
	return mx + float32(math.Log(float64(sum)))
}

func attnDims(op string, q *core.Tensor, heads int) (nb, seq, dm, hd int) {
	if q.Rank() != 3 || heads <= 0 || q.Dim(2)%heads != 0 {
		panic(fmt.Sprintf("cpu: %s needs q [B, L, H·Dh] divisible by %d heads, got %v", op, heads, q))
	}
	return q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(2) / heads
}

// scratchBuf returns a pooled buffer of at least n floats; release returns it.
func (b *Backend) scratchBuf(n int) *[]float32 {
	if p, ok := b.scratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func (b *Backend) release(p *[]float32) { b.scratch.Put(p) }
