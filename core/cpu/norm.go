package cpu

import (
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/vecmath"
)

// RMSNorm normalises each row by its root mean square and scales by w.
func (b *Backend) RMSNorm(out, rstd, x, w *core.Tensor, eps float32) {
	n, d := rows(x)
	mustSameLen("rmsnorm", out, x)
	mustShape("rmsnorm weight", w, d)
	mustLen("rmsnorm rstd", rstd, n)
	parallel(b, n, 16, rmsNormBody{o: f32(out), xs: f32(x), ws: f32(w), rs: f32(rstd), d: d, eps: eps})
}

type rmsNormBody struct {
	o, xs, ws, rs []float32
	d             int
	eps           float32
}

func (t *rmsNormBody) run(_, lo, hi int) {
	o, xs, ws, rs, d, eps := t.o, t.xs, t.ws, t.rs, t.d, t.eps
	for r := lo; r < hi; r++ {
		row := xs[r*d : (r+1)*d]
		s := float32(1 / math.Sqrt(float64(vecmath.SumSquares(row)/float32(d)+eps)))
		rs[r] = s
		vecmath.ScaleMul(o[r*d:(r+1)*d], row, ws, s)
	}
}

// RMSNormBackward adds the input gradient into dx and accumulates dw.
// With y = x·s·w and s = (mean(x²)+eps)^(−1/2):
// dx_j = s·(w_j·g_j) − x_j·s³·Σ_k(w_k·g_k·x_k)/D and dw_j = Σ_rows g_j·x_j·s.
func (b *Backend) RMSNormBackward(dx, dw, dOut, x, w, rstd *core.Tensor) {
	n, d := rows(x)
	mustSameLen("rmsnorm backward", dx, x, dOut)
	mustShape("rmsnorm backward dw", dw, d)
	mustLen("rmsnorm backward rstd", rstd, n)
	dws := f32(dw)
	// dw is reduced over rows: each worker sums into its own partial, then the partials are added.
	workers := min(b.threads, max(1, n/16))
	partial := floats(&b.partial, workers*d)
	clear(partial)
	chunk := (n + workers - 1) / workers
	parallel(b, workers, 1, rmsNormBwBody{dxs: f32(dx), g: f32(dOut), xs: f32(x), ws: f32(w), rs: f32(rstd),
		partial: partial, n: n, d: d, chunk: chunk})
	for wi := 0; wi < workers; wi++ {
		for j, v := range partial[wi*d : (wi+1)*d] {
			dws[j] += v
		}
	}
}

type rmsNormBwBody struct {
	dxs, g, xs, ws, rs, partial []float32
	n, d, chunk                 int
}

func (t *rmsNormBwBody) run(_, wlo, whi int) {
	dxs, g, xs, ws, rs, partial, n, d, chunk := t.dxs, t.g, t.xs, t.ws, t.rs, t.partial, t.n, t.d, t.chunk
	for wi := wlo; wi < whi; wi++ {
		acc := partial[wi*d : (wi+1)*d]
		for r := wi * chunk; r < min(n, (wi+1)*chunk); r++ {
			xr, gr, dxr := xs[r*d:(r+1)*d], g[r*d:(r+1)*d], dxs[r*d:(r+1)*d]
			s := rs[r]
			c := s * s * s * dot3(xr, gr, ws) / float32(d)
			for j := range xr {
				dxr[j] += s*ws[j]*gr[j] - xr[j]*c
				acc[j] += gr[j] * xr[j] * s
			}
		}
	}
}

// dot3 is Σ a_j·b_j·w_j in 4 independent partial sums: one running sum would chain every
// addition on the previous one, and the add latency would set the pace of a row (measured: the
// backward at a rollout's shape, 3200 rows of 128, 1.10 → 0.66–0.78 ms).
func dot3(a, b, w []float32) float32 {
	n := len(a)
	b, w = b[:n], w[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+3 < n; i += 4 {
		s0 += a[i] * b[i] * w[i]
		s1 += a[i+1] * b[i+1] * w[i+1]
		s2 += a[i+2] * b[i+2] * w[i+2]
		s3 += a[i+3] * b[i+3] * w[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i] * w[i]
	}
	return (s0 + s1) + (s2 + s3)
}
