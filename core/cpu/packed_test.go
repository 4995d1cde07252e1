package cpu

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
)

// TestPackedWeightsFollowWrites multiplies by a weight W (as x·Wᵀ and as dY·W, the forward's
// and the backward's products), so that MatMul keeps W packed, then writes W with every kind of
// op that can write a tensor — an upload (of the whole and of a row view), a fill, a copy, an
// optimizer step, a product, element-wise ops and ops through a reshaped view — and checks after
// each that both products use the new W: bit for bit what gemm.Sgemm computes from W's
// downloaded values. It also checks that an unchanged W is in fact reused, so the test would
// notice a cache that never hits as well as one that goes stale.
func TestPackedWeightsFollowWrites(t *testing.T) {
	const m, n, k = 300, 64, 32
	b := New()
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(t *core.Tensor) *core.Tensor {
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		b.Upload(t, v)
		return t
	}
	w := fill(b.Alloc(core.F32, n, k))
	x, dy := fill(b.Alloc(core.F32, m, k)), fill(b.Alloc(core.F32, m, n))
	y, dx := b.Alloc(core.F32, m, n), b.Alloc(core.F32, m, k)
	other := fill(b.Alloc(core.F32, n, k))
	grad, mom, vel := fill(b.Alloc(core.F32, n, k)), b.Alloc(core.F32, n, k), b.Alloc(core.F32, n, k)
	rstd := b.Alloc(core.F32, n)
	normW := fill(b.Alloc(core.F32, k))
	ids := b.Alloc(core.I32, m)
	idv := make([]int32, m)
	for i := range idv {
		idv[i] = int32(rng.IntN(n))
	}
	b.UploadInt(ids, idv)
	xk := fill(b.Alloc(core.F32, m, k))

	products := func(what string) {
		t.Helper()
		wv := make([]float32, n*k)
		b.Download(w, wv)
		xv, dyv := make([]float32, m*k), make([]float32, m*n)
		b.Download(x, xv)
		b.Download(dy, dyv)
		for _, p := range []struct {
			name        string
			out, a      *core.Tensor
			av          []float32
			transB      bool
			nOut, kProd int
		}{{"x·Wᵀ", y, x, xv, true, n, k}, {"dY·W", dx, dy, dyv, false, k, n}} {
			b.MatMul(p.out, p.a, w, false, p.transB, 1, 0)
			want := make([]float32, m*p.nOut)
			gemm.Sgemm(false, p.transB, m, p.nOut, p.kProd, 1, p.av, p.kProd, wv, k, 0, want, p.nOut) // W is n×k either way
			got := make([]float32, m*p.nOut)
			b.Download(p.out, got)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("after %s: %s[%d] = %v, want %v: the product used a stale W", what, p.name, i, got[i], want[i])
				}
			}
		}
	}
	hits := func() int { // packed views of W that are valid now
		s, n := buf(w), 0
		for _, p := range s.packs {
			if p.filled && p.gen == s.gen {
				n++
			}
		}
		return n
	}

	products("the first products")
	if got := hits(); got != 2 {
		t.Fatalf("after multiplying by W twice, %d of its 2 packed views are valid", got)
	}
	products("the same products again (packed W reused)")

	h := core.AdamHyper{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8}
	writes := []struct {
		name string
		do   func()
	}{
		{"Upload", func() { fill(w) }},
		{"Upload into a row view", func() { fill(w.Rows(3, 4)) }},
		{"Fill", func() { b.Fill(w, 0.25) }},
		{"Copy", func() { b.Copy(w, other) }},
		{"AdamW", func() { b.AdamW(w, grad, mom, vel, 1, h) }},
		{"Add", func() { b.Add(w, w, other) }},
		{"Scale", func() { b.Scale(w, -1.5) }},
		{"ClipGradNorm", func() { b.ClipGradNorm(b.Alloc(core.F32, 1), []*core.Tensor{w}, 1e-3) }},
		{"MatMul into W", func() { b.MatMul(w, other, b.Alloc(core.F32, k, k), false, false, 1, 1) }},
		{"RMSNorm into W", func() { b.RMSNorm(w, rstd, other, normW, 1e-5) }},
		{"SwiGLU into W", func() { b.SwiGLU(w, other, grad) }},
		{"LogSoftmax into W", func() { b.LogSoftmax(w, other) }},
		{"EmbeddingBackward into W", func() { b.EmbeddingBackward(w, xk, ids) }},
		{"RoPE through a reshaped view", func() { b.RoPE(w.Reshape(2, n/2, k), 2, 10000) }},
	}
	for _, wr := range writes {
		products("re-packing before " + wr.name)
		if hits() != 2 {
			t.Fatalf("before %s: W's packed views are not in use", wr.name)
		}
		wr.do()
		if got := hits(); got != 0 {
			t.Fatalf("%s wrote W but left %d packed views valid", wr.name, got)
		}
		products(wr.name)
	}
}

// TestReadOnlyAccesses guards the invalidation of packed copies: f32r, the accessor that does
// not invalidate, is used only where the op reads the operand and nothing else — Download's
// source, Copy's source and MatMul's A and B. A new use must be reviewed against f32r's
// contract and added here.
func TestReadOnlyAccesses(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var uses []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "f32r" {
						uses = append(uses, fn.Name.Name+"("+exprString(src, fset, call.Args[0])+")")
					}
				}
				return true
			})
		}
	}
	slices.Sort(uses)
	want := []string{"Copy(src)", "Download(t)", "MatMul(a)", "MatMul(w)"}
	if !slices.Equal(uses, want) {
		t.Errorf("f32r is used in %v, want %v: an operand read through f32r must never be written", uses, want)
	}
}

func exprString(src []byte, fset *token.FileSet, e ast.Expr) string {
	return string(src[fset.Position(e.Pos()).Offset:fset.Position(e.End()).Offset])
}
