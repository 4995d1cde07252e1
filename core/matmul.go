package core

import "fmt"

// MatMulDims is how Backend.MatMul reads its operands' shapes, shared by every backend: the
// batch count, c's m×n, the inner k, and the row strides of a and b as stored. A 2-D b with an
// untransposed a is a linear layer (a's leading dims flattened into rows); otherwise the
// operands are 2-D, or 3-D with a common leading batch dim.
type MatMulDims struct {
	Batch, M, N, K int
	LDA, LDB       int // elements per stored row of a and b
	StrideA        int // elements between batch entries of a (0 when Batch = 1)
	StrideB        int
}

// MatMulShape checks c = op(a)·op(b) and returns its dimensions, or an error describing the
// mismatch.
func MatMulShape(c, a, b *Tensor, transA, transB bool) (MatMulDims, error) {
	if b.Rank() == 2 && !transA {
		k := a.Dim(-1)
		m := a.Len() / k
		n, kb := b.Dim(0), b.Dim(1)
		if !transB {
			kb, n = n, kb
		}
		if kb != k || c.Len() != m*n || c.Dim(-1) != n {
			return MatMulDims{}, fmt.Errorf("matmul shapes %v·%v(T=%v) into %v", a, b, transB, c)
		}
		return MatMulDims{Batch: 1, M: m, N: n, K: k, LDA: k, LDB: b.Dim(1)}, nil
	}
	if a.Rank() != b.Rank() || c.Rank() != a.Rank() || (a.Rank() != 2 && a.Rank() != 3) {
		return MatMulDims{}, fmt.Errorf("matmul needs 2-D or matching 3-D operands, got %v·%v into %v", a, b, c)
	}
	batch := 1
	if a.Rank() == 3 {
		batch = a.Dim(0)
		if b.Dim(0) != batch || c.Dim(0) != batch {
			return MatMulDims{}, fmt.Errorf("matmul batch mismatch %v·%v into %v", a, b, c)
		}
	}
	ar, ac := a.Dim(-2), a.Dim(-1)
	br, bc := b.Dim(-2), b.Dim(-1)
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if kb != k || c.Dim(-2) != m || c.Dim(-1) != n {
		return MatMulDims{}, fmt.Errorf("matmul shapes %v(T=%v)·%v(T=%v) into %v", a, transA, b, transB, c)
	}
	d := MatMulDims{Batch: batch, M: m, N: n, K: k, LDA: ac, LDB: bc}
	if batch > 1 {
		d.StrideA, d.StrideB = ar*ac, br*bc
	}
	return d, nil
}
