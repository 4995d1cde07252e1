package backendtest

import (
	"math"

	"github.com/dllmrl/agrpo/core"
)

// Float64 reference implementations of every op, written independently of any backend: plain
// loops, no shared code with core/cpu. Layouts follow core.Backend's doc comments.

func refMatMul(a, b []float64, batch, m, n, k int, transA, transB bool, alpha, beta float64, c0 []float64) []float64 {
	c := make([]float64, batch*m*n)
	for bt := 0; bt < batch; bt++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					var av, bv float64
					if transA {
						av = a[bt*m*k+p*m+i]
					} else {
						av = a[bt*m*k+i*k+p]
					}
					if transB {
						bv = b[bt*k*n+j*k+p]
					} else {
						bv = b[bt*k*n+p*n+j]
					}
					s += av * bv
				}
				idx := bt*m*n + i*n + j
				c[idx] = alpha*s + beta*c0[idx]
			}
		}
	}
	return c
}

func refRMSNorm(x, w []float64, d int, eps float64) (out, rstd []float64) {
	n := len(x) / d
	out, rstd = make([]float64, len(x)), make([]float64, n)
	for r := 0; r < n; r++ {
		var ss float64
		for j := 0; j < d; j++ {
			ss += x[r*d+j] * x[r*d+j]
		}
		s := 1 / math.Sqrt(ss/float64(d)+eps)
		rstd[r] = s
		for j := 0; j < d; j++ {
			out[r*d+j] = x[r*d+j] * s * w[j]
		}
	}
	return out, rstd
}

func refRoPE(x []float64, nb, seq, dm, heads int, theta float64) []float64 {
	out := append([]float64(nil), x...)
	hd := dm / heads
	half := hd / 2
	for b := 0; b < nb; b++ {
		for p := 0; p < seq; p++ {
			for h := 0; h < heads; h++ {
				off := (b*seq+p)*dm + h*hd
				for i := 0; i < half; i++ {
					ang := float64(p) / math.Pow(theta, float64(2*i)/float64(hd))
					c, s := math.Cos(ang), math.Sin(ang)
					x1, x2 := x[off+i], x[off+i+half]
					out[off+i] = x1*c - x2*s
					out[off+i+half] = x2*c + x1*s
				}
			}
		}
	}
	return out
}

// refAttention is attention with kvHeads key/value heads of width dm/heads each (k and v rows
// are kvHeads·Dh wide); query head h reads key/value head h/(heads/kvHeads).
func refAttention(q, k, v []float64, mask []int32, nb, seq, dm, heads, kvHeads int) (out, lse []float64) {
	hd := dm / heads
	kdm, group := kvHeads*hd, heads/kvHeads
	scale := 1 / math.Sqrt(float64(hd))
	out = make([]float64, len(q))
	lse = make([]float64, nb*heads*seq)
	for b := 0; b < nb; b++ {
		for h := 0; h < heads; h++ {
			kh := h / group
			for i := 0; i < seq; i++ {
				sc := make([]float64, seq)
				mx := math.Inf(-1)
				for j := 0; j < seq; j++ {
					if mask[b*seq+j] == 0 {
						sc[j] = math.Inf(-1)
						continue
					}
					var s float64
					for d := 0; d < hd; d++ {
						s += q[(b*seq+i)*dm+h*hd+d] * k[(b*seq+j)*kdm+kh*hd+d]
					}
					sc[j] = s * scale
					mx = math.Max(mx, sc[j])
				}
				if math.IsInf(mx, -1) { // no real key: out stays 0
					lse[(b*heads+h)*seq+i] = mx
					continue
				}
				var z float64
				for j := range sc {
					z += math.Exp(sc[j] - mx)
				}
				lse[(b*heads+h)*seq+i] = mx + math.Log(z)
				for j := range sc {
					p := math.Exp(sc[j]-mx) / z
					for d := 0; d < hd; d++ {
						out[(b*seq+i)*dm+h*hd+d] += p * v[(b*seq+j)*kdm+kh*hd+d]
					}
				}
			}
		}
	}
	return out, lse
}

func refSwiGLU(g, u []float64) []float64 {
	out := make([]float64, len(g))
	for i := range g {
		out[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return out
}

func refLogSoftmax(x []float64, v int) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/v; r++ {
		l := refLSE(x[r*v : (r+1)*v])
		for j := 0; j < v; j++ {
			out[r*v+j] = x[r*v+j] - l
		}
	}
	return out
}

func refLSE(x []float64) float64 {
	mx := math.Inf(-1)
	for _, e := range x {
		mx = math.Max(mx, e)
	}
	var s float64
	for _, e := range x {
		s += math.Exp(e - mx)
	}
	return mx + math.Log(s)
}

func refCrossEntropy(logits []float64, targets []int32, w []float64, v int) float64 {
	var loss float64
	for r := range targets {
		row := logits[r*v : (r+1)*v]
		loss += w[r] * (refLSE(row) - row[targets[r]])
	}
	return loss
}

// refTokenLogProbs returns log p(token) and the entropy under softmax(logits·invT + bias).
func refTokenLogProbs(logits []float64, tokens []int32, bias []float64, invT float64, v int) (logp, ent []float64) {
	n := len(tokens)
	logp, ent = make([]float64, n), make([]float64, n)
	z := make([]float64, v)
	for r := 0; r < n; r++ {
		for j := 0; j < v; j++ {
			z[j] = logits[r*v+j] * invT
			if bias != nil {
				z[j] += bias[r*v+j]
			}
		}
		l := refLSE(z)
		logp[r] = z[tokens[r]] - l
		for j := 0; j < v; j++ {
			if !math.IsInf(z[j], -1) {
				ent[r] -= math.Exp(z[j]-l) * (z[j] - l)
			}
		}
	}
	return logp, ent
}

// refAdamW follows torch.optim.AdamW's update order.
func refAdamW(p, g, m, v []float64, step int, lr, b1, b2, eps, wd float64) {
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	for i := range p {
		p[i] *= 1 - lr*wd
		m[i] = b1*m[i] + (1-b1)*g[i]
		v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		p[i] -= lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + eps)
	}
}

// refSelection is core.Backend.SelectionLogProbs in float64: log of the mass of p =
// softmax(logits·invT + bias) on the tokens whose confidence ranks below κ (ties within Tol when
// the rule says they lose, or when nothing is below the band), 0 for rows with rule 0.
func refSelection(logits, bias, kappa []float64, rule []int32, v int, p core.SelectionParams) []float64 {
	n := len(rule)
	out := make([]float64, n)
	invT, tol := float64(p.InvTemp), float64(p.Tol)
	for r := 0; r < n; r++ {
		if rule[r] == 0 {
			continue
		}
		raw := logits[r*v : (r+1)*v]
		z := make([]float64, v)
		for j := range z {
			z[j] = raw[j] * invT
			if bias != nil {
				z[j] += bias[r*v+j]
			}
		}
		lse, rawLSE := refLSE(z), refLSE(raw)
		var below, band float64
		nBelow := 0
		for j := range z {
			if math.IsInf(z[j], -1) {
				continue
			}
			c := z[j] - lse
			if p.Confidence == core.Untempered {
				c = raw[j] - rawLSE
			}
			switch {
			case c < kappa[r]-tol:
				below += math.Exp(z[j] - lse)
				nBelow++
			case c <= kappa[r]+tol:
				band += math.Exp(z[j] - lse)
			}
		}
		if rule[r] == 2 || nBelow == 0 {
			below += band
		}
		out[r] = math.Log(below)
	}
	return out
}
