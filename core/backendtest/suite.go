// Package backendtest is the test suite every core.Backend must pass: each op's forward against
// a float64 reference written here, independent of any backend, and each backward against central
// finite differences of that reference. The CPU backend runs it today; the Vulkan backend runs the
// same suite, so both are held to one definition of every op.
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// Tolerances: relative L2 error of a float32 result against the float64 truth. Forward ops are
// a few roundings deep; backward results also carry the forward's rounding.
const (
	fwdTol = 1e-5
	bwdTol = 5e-5
	// fdEps is the central-difference step on the float64 reference (error ~eps², far below bwdTol).
	fdEps = 1e-5
	// absFloor is the magnitude below which errors are judged in absolute terms (see relErr).
	absFloor = 1e-2
)

// Run runs the whole suite on backends made by newBackend (one per subtest).
func Run(t *testing.T, newBackend func() core.Backend) {
	tests := []struct {
		name string
		fn   func(*suite)
	}{
		{"Elementwise", testElementwise},
		{"MatMul", testMatMul},
		{"Embedding", testEmbedding},
		{"RMSNorm", testRMSNorm},
		{"RoPE", testRoPE},
		{"Attention", testAttention},
		{"SwiGLU", testSwiGLU},
		{"LogSoftmax", testLogSoftmax},
		{"CrossEntropy", testCrossEntropy},
		{"TokenLogProbs", testTokenLogProbs},
		{"SelectionLogProbs", testSelectionLogProbs},
		{"AdamW", testAdamW},
		{"ClipGradNorm", testClipGradNorm},
		{"UnmaskStep", testUnmaskStep},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(&suite{t: t, b: newBackend(), rng: rand.New(rand.NewPCG(uint64(i+1), 7))})
		})
	}
}

type suite struct {
	t   *testing.T
	b   core.Backend
	rng *rand.Rand
}

// rand uploads a tensor of N(0, scale²) values and returns the float32-rounded values in float64.
func (s *suite) rand(scale float64, shape ...int) (*core.Tensor, []float64) {
	n := core.NumElems(shape)
	v32 := make([]float32, n)
	v64 := make([]float64, n)
	for i := range v32 {
		v32[i] = float32(s.rng.NormFloat64() * scale)
		v64[i] = float64(v32[i])
	}
	t := s.b.Alloc(core.F32, shape...)
	s.b.Upload(t, v32)
	return t, v64
}

// upload puts float64 values (rounded to float32) into a new tensor.
func (s *suite) upload(v []float64, shape ...int) *core.Tensor {
	t := s.b.Alloc(core.F32, shape...)
	s.b.Upload(t, f32(v))
	return t
}

// f32 rounds values to float32.
func f32(v []float64) []float32 {
	v32 := make([]float32, len(v))
	for i, x := range v {
		v32[i] = float32(x)
	}
	return v32
}

func (s *suite) ints(v []int32, shape ...int) *core.Tensor {
	t := s.b.Alloc(core.I32, shape...)
	s.b.UploadInt(t, v)
	return t
}

func (s *suite) randInts(n, hi int) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(s.rng.IntN(hi))
	}
	return v
}

func (s *suite) down(t *core.Tensor) []float64 {
	v32 := make([]float32, t.Len())
	s.b.Download(t, v32)
	v := make([]float64, len(v32))
	for i, x := range v32 {
		v[i] = float64(x)
	}
	return v
}

// check fails the test when got differs from want by more than tol in relative L2 norm.
func (s *suite) check(name string, got, want []float64, tol float64) {
	s.t.Helper()
	if len(got) != len(want) {
		s.t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	if err := relErr(got, want); !(err <= tol) {
		worst := 0
		for i := range got {
			if math.Abs(got[i]-want[i]) > math.Abs(got[worst]-want[worst]) || math.IsNaN(got[i]) {
				worst = i
			}
		}
		s.t.Errorf("%s: relative error %.3g > %.3g (worst at %d: got %.7g, want %.7g)", name, err, tol, worst, got[worst], want[worst])
	}
}

// relErr is ‖got − want‖ / ‖want‖, with ‖want‖ floored at absFloor·√n so that results that are
// tiny by cancellation (a log-probability of −1e−4, say) are held to an absolute bound instead.
func relErr(got, want []float64) float64 {
	var num, den float64
	for i := range got {
		d := got[i] - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), absFloor*math.Sqrt(float64(len(want))))
}

// fdGrad is the central-difference gradient of loss with respect to x, which loss reads.
func fdGrad(x []float64, loss func() float64) []float64 {
	g := make([]float64, len(x))
	for i := range x {
		orig := x[i]
		x[i] = orig + fdEps
		up := loss()
		x[i] = orig - fdEps
		dn := loss()
		x[i] = orig
		g[i] = (up - dn) / (2 * fdEps)
	}
	return g
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func sub(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

func testElementwise(s *suite) {
	for _, n := range []int{1, 7, 1000, 40000} {
		a, av := s.rand(1, n)
		b, bv := s.rand(1, n)
		out := s.b.Alloc(core.F32, n)
		s.b.Add(out, a, b)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(float32(av[i] + bv[i]))
		}
		s.check(fmt.Sprintf("add n=%d", n), s.down(out), want, 0)
		s.b.Add(a, a, b) // in place
		s.check("add in place", s.down(a), want, 0)
		s.b.Scale(b, 0.5)
		for i := range bv {
			bv[i] *= 0.5
		}
		s.check("scale", s.down(b), bv, 0)
		s.b.Copy(out, b)
		s.check("copy", s.down(out), bv, 0)
		s.b.Fill(out, 3)
		for i := range bv {
			bv[i] = 3
		}
		s.check("fill", s.down(out), bv, 0)
	}
	ids := s.randInts(9, 100)
	it := s.ints(ids, 3, 3)
	it2 := s.b.Alloc(core.I32, 9)
	s.b.Copy(it2, it)
	got := make([]int32, 9)
	s.b.DownloadInt(it2, got)
	for i := range ids {
		if got[i] != ids[i] {
			s.t.Fatalf("int copy: got %v, want %v", got, ids)
		}
	}
}

func testMatMul(s *suite) {
	type shape struct{ batch, m, n, k int }
	shapes := []shape{{1, 1, 1, 1}, {1, 3, 7, 5}, {1, 17, 33, 65}, {1, 64, 64, 64}, {1, 130, 67, 129}, {3, 7, 17, 33}, {2, 65, 31, 16}}
	for i := 0; i < 6; i++ {
		shapes = append(shapes, shape{1 + s.rng.IntN(3), 1 + s.rng.IntN(90), 1 + s.rng.IntN(90), 1 + s.rng.IntN(90)})
	}
	for _, sh := range shapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float64{{1, 0}, {0.5, 1}, {-2, 0.25}} {
				name := fmt.Sprintf("b%d m%d n%d k%d tA=%v tB=%v alpha=%g beta=%g", sh.batch, sh.m, sh.n, sh.k, tr[0], tr[1], ab[0], ab[1])
				dims := func(r, c int, t bool) []int {
					if t {
						r, c = c, r
					}
					if sh.batch > 1 {
						return []int{sh.batch, r, c}
					}
					return []int{r, c}
				}
				a, av := s.rand(1, dims(sh.m, sh.k, tr[0])...)
				b, bv := s.rand(1, dims(sh.k, sh.n, tr[1])...)
				c, cv := s.rand(1, dims(sh.m, sh.n, false)...)
				s.b.MatMul(c, a, b, tr[0], tr[1], float32(ab[0]), float32(ab[1]))
				want := refMatMul(av, bv, sh.batch, sh.m, sh.n, sh.k, tr[0], tr[1], ab[0], ab[1], cv)
				s.check(name, s.down(c), want, 1e-5)
			}
		}
	}
	// Linear layer form: a [B, L, K] times a 2-D weight [N, K]ᵀ, leading dims flattened.
	a, av := s.rand(1, 3, 5, 12)
	w, wv := s.rand(1, 7, 12)
	c := s.b.Alloc(core.F32, 3, 5, 7)
	s.b.MatMul(c, a, w, false, true, 1, 0)
	s.check("linear 3-D·2-Dᵀ", s.down(c), refMatMul(av, wv, 1, 15, 7, 12, false, true, 1, 0, make([]float64, 105)), 1e-5)
}

func testEmbedding(s *suite) {
	const v, d, n = 11, 9, 37
	table, tv := s.rand(1, v, d)
	ids := s.randInts(n, v)
	ids[3], ids[4] = 2, 2 // a repeated id must accumulate
	it := s.ints(ids, n)
	out := s.b.Alloc(core.F32, n, d)
	s.b.Embedding(out, table, it)
	want := make([]float64, n*d)
	for i, id := range ids {
		copy(want[i*d:], tv[int(id)*d:int(id+1)*d])
	}
	s.check("embedding", s.down(out), want, 0)

	dOut, gv := s.rand(1, n, d)
	dTable, dt0 := s.rand(1, v, d)
	s.b.EmbeddingBackward(dTable, dOut, it)
	// The gradient of Σ r·embed(table) w.r.t. table, by finite differences of the reference.
	fd := fdGrad(tv, func() float64 {
		var l float64
		for i, id := range ids {
			l += dot(gv[i*d:(i+1)*d], tv[int(id)*d:int(id+1)*d])
		}
		return l
	})
	s.check("embedding backward (accumulates)", sub(s.down(dTable), dt0), fd, bwdTol)
}

func testRMSNorm(s *suite) {
	for _, sh := range [][2]int{{1, 3}, {5, 7}, {33, 128}, {67, 17}, {3, 300}} {
		n, d := sh[0], sh[1]
		const eps = 1e-5
		x, xv := s.rand(1, n, d)
		w, wv := s.rand(1, d)
		out := s.b.Alloc(core.F32, n, d)
		rstd := s.b.Alloc(core.F32, n)
		s.b.RMSNorm(out, rstd, x, w, eps)
		wantOut, wantR := refRMSNorm(xv, wv, d, eps)
		s.check(fmt.Sprintf("rmsnorm %dx%d", n, d), s.down(out), wantOut, fwdTol)
		s.check("rmsnorm rstd", s.down(rstd), wantR, fwdTol)

		g, gv := s.rand(1, n, d)
		dx, dx0 := s.rand(1, n, d)
		dw, dw0 := s.rand(1, d)
		s.b.RMSNormBackward(dx, dw, g, x, w, rstd)
		loss := func() float64 { o, _ := refRMSNorm(xv, wv, d, eps); return dot(gv, o) }
		s.check("rmsnorm backward dx (accumulates)", sub(s.down(dx), dx0), fdGrad(xv, loss), bwdTol)
		s.check("rmsnorm backward dw (accumulates)", sub(s.down(dw), dw0), fdGrad(wv, loss), bwdTol)
	}
}

func testRoPE(s *suite) {
	for _, sh := range [][4]int{{1, 1, 2, 1}, {2, 5, 12, 3}, {3, 17, 32, 2}, {1, 21, 64, 4}} {
		nb, seq, dm, heads := sh[0], sh[1], sh[2], sh[3]
		const theta = 10000
		x, xv := s.rand(1, nb, seq, dm)
		s.b.RoPE(x, heads, theta)
		s.check(fmt.Sprintf("rope %v", sh), s.down(x), refRoPE(xv, nb, seq, dm, heads, theta), fwdTol)

		g, gv := s.rand(1, nb, seq, dm)
		s.b.RoPEBackward(g, heads, theta)
		loss := func() float64 { return dot(gv, refRoPE(xv, nb, seq, dm, heads, theta)) }
		s.check("rope backward", s.down(g), fdGrad(xv, loss), bwdTol)
	}
}

func testAttention(s *suite) {
	// {batch, seq, width, heads, key/value heads}: the last three are grouped-query attention
	// (two and three query heads per key/value head, and one key/value head for all).
	for _, sh := range [][5]int{{1, 1, 2, 1, 1}, {2, 5, 8, 2, 2}, {2, 9, 12, 3, 3}, {1, 33, 16, 1, 1}, {3, 4, 8, 2, 2},
		{2, 7, 16, 4, 2}, {3, 10, 24, 6, 2}, {1, 9, 12, 3, 1}} {
		nb, seq, dm, heads, kvHeads := sh[0], sh[1], sh[2], sh[3], sh[4]
		kdm := dm / heads * kvHeads
		q, qv := s.rand(1, nb, seq, dm)
		k, kv := s.rand(1, nb, seq, kdm)
		v, vv := s.rand(1, nb, seq, kdm)
		mask := make([]int32, nb*seq)
		for i := range mask {
			mask[i] = 1
		}
		// Padding keys: the last two of row 0 and the first of row 1 (left padding), when there is room.
		if seq > 2 {
			mask[seq-1], mask[seq-2] = 0, 0
			if nb > 1 {
				mask[seq] = 0
			}
		}
		// Row 2 is all padding: out 0, lse −Inf, and zero gradients (not NaN).
		if nb > 2 {
			clear(mask[2*seq : 3*seq])
		}
		km := s.ints(mask, nb, seq)
		out := s.b.Alloc(core.F32, nb, seq, dm)
		lse := s.b.Alloc(core.F32, nb, heads, seq)
		s.b.Attention(out, lse, q, k, v, km, heads)
		wantOut, wantLSE := refAttention(qv, kv, vv, mask, nb, seq, dm, heads, kvHeads)
		name := fmt.Sprintf("attention %v", sh)
		s.check(name, s.down(out), wantOut, fwdTol)
		gotLSE := s.down(lse)
		for i, w := range wantLSE {
			if math.IsInf(w, -1) { // compared here, and as 0 = 0 by check
				if !math.IsInf(gotLSE[i], -1) {
					s.t.Errorf("%s: lse %d is %g, want −Inf (no real key)", name, i, gotLSE[i])
				}
				gotLSE[i], wantLSE[i] = 0, 0
			}
		}
		s.check(name+" lse", gotLSE, wantLSE, fwdTol)

		g, gv := s.rand(1, nb, seq, dm)
		dq := s.b.Alloc(core.F32, nb, seq, dm)
		dk := s.b.Alloc(core.F32, nb, seq, kdm)
		dv := s.b.Alloc(core.F32, nb, seq, kdm)
		s.b.AttentionBackward(dq, dk, dv, g, q, k, v, out, lse, km, heads)
		loss := func() float64 { o, _ := refAttention(qv, kv, vv, mask, nb, seq, dm, heads, kvHeads); return dot(gv, o) }
		s.check(name+" backward dq", s.down(dq), fdGrad(qv, loss), bwdTol)
		s.check(name+" backward dk", s.down(dk), fdGrad(kv, loss), bwdTol)
		s.check(name+" backward dv", s.down(dv), fdGrad(vv, loss), bwdTol)
	}
}

func testSwiGLU(s *suite) {
	for _, n := range []int{1, 13, 999} {
		g, gv := s.rand(2, n)
		u, uv := s.rand(1, n)
		out := s.b.Alloc(core.F32, n)
		s.b.SwiGLU(out, g, u)
		s.check(fmt.Sprintf("swiglu n=%d", n), s.down(out), refSwiGLU(gv, uv), fwdTol)

		d, dv := s.rand(1, n)
		dg := s.b.Alloc(core.F32, n)
		du := s.b.Alloc(core.F32, n)
		s.b.SwiGLUBackward(dg, du, d, g, u)
		loss := func() float64 { return dot(dv, refSwiGLU(gv, uv)) }
		s.check("swiglu backward dgate", s.down(dg), fdGrad(gv, loss), bwdTol)
		s.check("swiglu backward dup", s.down(du), fdGrad(uv, loss), bwdTol)
	}
}

func testLogSoftmax(s *suite) {
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {40, 33}, {3, 300}} {
		n, v := sh[0], sh[1]
		x, xv := s.rand(3, n, v)
		out := s.b.Alloc(core.F32, n, v)
		s.b.LogSoftmax(out, x)
		s.check(fmt.Sprintf("logsoftmax %dx%d", n, v), s.down(out), refLogSoftmax(xv, v), fwdTol)

		g, gv := s.rand(1, n, v)
		dx := s.b.Alloc(core.F32, n, v)
		s.b.LogSoftmaxBackward(dx, g, out)
		loss := func() float64 { return dot(gv, refLogSoftmax(xv, v)) }
		s.check("logsoftmax backward", s.down(dx), fdGrad(xv, loss), bwdTol)
	}
}

func testCrossEntropy(s *suite) {
	for _, sh := range [][2]int{{1, 2}, {9, 21}, {40, 37}} {
		n, v := sh[0], sh[1]
		x, xv := s.rand(3, n, v)
		tg := s.randInts(n, v)
		w, wv := s.rand(1, n)
		loss := s.b.Alloc(core.F32, 1)
		dx := s.b.Alloc(core.F32, n, v)
		s.b.CrossEntropy(loss, dx, x, s.ints(tg, n), w)
		ref := func() float64 { return refCrossEntropy(xv, tg, wv, v) }
		name := fmt.Sprintf("cross-entropy %dx%d", n, v)
		s.check(name, s.down(loss), []float64{ref()}, fwdTol)
		s.check(name+" dlogits", s.down(dx), fdGrad(xv, ref), bwdTol)
		// Forward only (nil gradient) gives the same loss.
		s.b.CrossEntropy(loss, nil, x, s.ints(tg, n), w)
		s.check(name+" forward only", s.down(loss), []float64{ref()}, fwdTol)
	}
}

func testTokenLogProbs(s *suite) {
	for _, sh := range [][2]int{{1, 2}, {7, 21}, {20, 40}} {
		n, v := sh[0], sh[1]
		for _, invT := range []float64{1, 1 / 0.6} {
			for _, withBias := range []bool{false, true} {
				x, xv := s.rand(2, n, v)
				tg := s.randInts(n, v)
				var support *core.Tensor
				var bv []float64
				if withBias {
					// Supports of every kind, the sampled token kept: a top-k style cut (about
					// half the entries out), every token but one (no cut, the mask id out),
					// and every token.
					bv = make([]float64, n*v)
					for i := range bv {
						r, j := i/v, i%v
						if int32(j) == tg[r] {
							continue
						}
						if r%3 == 0 && s.rng.IntN(2) == 0 || r%3 == 1 && j == (int(tg[r])+1)%v {
							bv[i] = math.Inf(-1)
						}
					}
					support = s.support(bv, n, v)
				}
				name := fmt.Sprintf("token logprobs %dx%d invT=%.3g support=%v", n, v, invT, withBias)
				lp := s.b.Alloc(core.F32, n)
				ent := s.b.Alloc(core.F32, n)
				tk := s.ints(tg, n)
				s.b.TokenLogProbs(lp, ent, x, tk, support, float32(invT))
				wantLP, wantEnt := refTokenLogProbs(xv, tg, bv, invT, v)
				s.check(name+" logp", s.down(lp), wantLP, fwdTol)
				s.check(name+" entropy", s.down(ent), wantEnt, fwdTol)
				if withBias && n > 1 {
					// A chunk of rows reads its support through a view of the encoding's tail.
					lo := n / 2
					part := s.b.Alloc(core.F32, n-lo)
					s.b.TokenLogProbs(part, nil, x.Rows(lo, n), tk.Rows(lo, n), support.Rows(lo, support.Len()), float32(invT))
					s.check(name+" rows of a chunk", s.down(part), wantLP[lo:], fwdTol)
				}

				dlp, dlpv := s.rand(1, n)
				dent, dentv := s.rand(1, n)
				dx := s.b.Alloc(core.F32, n, v)
				s.b.TokenLogProbsBackward(dx, dlp, dent, x, tk, support, float32(invT))
				loss := func() float64 {
					l, e := refTokenLogProbs(xv, tg, bv, invT, v)
					return dot(dlpv, l) + dot(dentv, e)
				}
				s.check(name+" backward", s.down(dx), fdGrad(xv, loss), bwdTol)
				s.b.TokenLogProbsBackward(dx, dlp, nil, x, tk, support, float32(invT))
				lossLP := func() float64 { l, _ := refTokenLogProbs(xv, tg, bv, invT, v); return dot(dlpv, l) }
				s.check(name+" backward (logp only)", s.down(dx), fdGrad(xv, lossLP), bwdTol)
			}
		}
	}
}

// support uploads the sparse encoding (core.EncodeSupport) of a dense reference mask bv [n, v]
// (0 inside, −Inf outside): a row with no −Inf is every token, one with a single −Inf every
// token but that one, any other row its kept ids.
func (s *suite) support(bv []float64, n, v int) *core.Tensor {
	rows := make([][]int32, n)
	for r := range rows {
		var kept, out []int32
		for j := 0; j < v; j++ {
			if math.IsInf(bv[r*v+j], -1) {
				out = append(out, int32(j))
			} else {
				kept = append(kept, int32(j))
			}
		}
		switch len(out) {
		case 0:
		case 1:
			rows[r] = core.AllBut(out[0])
		default:
			rows[r] = kept
		}
	}
	enc := core.EncodeSupport(rows)
	if err := core.CheckSupport(enc, n, v); err != nil {
		s.t.Fatalf("support of a test mask: %v", err)
	}
	return s.ints(enc, len(enc))
}

func testAdamW(s *suite) {
	const n = 1001
	p, pv := s.rand(1, n)
	m := s.b.Alloc(core.F32, n)
	v := s.b.Alloc(core.F32, n)
	mv, vv := make([]float64, n), make([]float64, n)
	h := core.AdamHyper{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1}
	for step := 1; step <= 5; step++ {
		g, gv := s.rand(1, n)
		s.b.AdamW(p, g, m, v, step, h)
		refAdamW(pv, gv, mv, vv, step, float64(h.LR), float64(h.Beta1), float64(h.Beta2), float64(h.Eps), float64(h.WeightDecay))
		// Re-round the reference state to float32 each step, as the backend stores it.
		for _, xs := range [][]float64{pv, mv, vv} {
			for i := range xs {
				xs[i] = float64(float32(xs[i]))
			}
		}
		s.check(fmt.Sprintf("adamw step %d param", step), s.down(p), pv, fwdTol)
		s.check(fmt.Sprintf("adamw step %d m", step), s.down(m), mv, fwdTol)
		s.check(fmt.Sprintf("adamw step %d v", step), s.down(v), vv, fwdTol)
	}
}

func testClipGradNorm(s *suite) {
	for _, maxNorm := range []float64{0, 1e9, 0.5} {
		a, av := s.rand(1, 37)
		b, bv := s.rand(2, 5, 11)
		norm := s.b.Alloc(core.F32, 1)
		s.b.ClipGradNorm(norm, []*core.Tensor{a, b}, float32(maxNorm))
		total := math.Sqrt(dot(av, av) + dot(bv, bv))
		s.check(fmt.Sprintf("clip norm max=%g", maxNorm), s.down(norm), []float64{total}, fwdTol)
		c := 1.0
		if maxNorm > 0 && maxNorm/(total+1e-6) < 1 {
			c = maxNorm / (total + 1e-6)
		}
		for i := range av {
			av[i] *= c
		}
		for i := range bv {
			bv[i] *= c
		}
		s.check("clip grads a", s.down(a), av, fwdTol)
		s.check("clip grads b", s.down(b), bv, fwdTol)
	}
}
