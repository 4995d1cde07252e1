package gemm

import "runtime"

// PackedB is op(B) of a product packed ahead for the micro-kernel in use, in the layout the
// GEMM's blocks read, so that a B shared by many products (a weight matrix between two
// optimizer steps: every forward of a rollout multiplies by the same Wᵀ) is packed once
// instead of once per task of every call. The zero value is empty. Whether the B it was
// packed from has changed since is the caller's to know (SgemmPackedB's valid argument).
type PackedB struct {
	kern         *microKernel
	transB       bool
	k, n, kcStep int
	npad         int       // n rounded up to the kernel's panel width
	data, mem    []float32 // the panels (64-byte aligned) and their backing storage
}

// packedBMax bounds (in floats) the op(B) that SgemmPackedB keeps packed: a weight matrix of
// the sizes this engine trains. Beyond it the product is large enough for packing per call to
// be a small share of it, and a second copy of the matrix would cost memory.
const packedBMax = 1 << 22

// packsB reports whether a product of this shape would use a B packed ahead: it must run
// without k-splitting, whose slices block k differently.
func packsB(m, n, k int) bool {
	return k*roundUp(n, 32) <= packedBMax && kSplit(m, n, k, runtime.GOMAXPROCS(0)) == 1
}

// holds reports whether pb holds an op(B) of this shape packed for kernel kern.
func (pb *PackedB) holds(kern *microKernel, transB bool, k, n int) bool {
	return pb.kern == kern && pb.transB == transB && pb.k == k && pb.n == n
}

// pack packs op(B) of p (k×n) for kern into pb: for each k block of the GEMM's own balanced
// blocking, all of its nr-column panels (zero-padded at the edge), the blocks one after
// another, so the block at k offset pc starts at pc·npad and its panel for column jc at
// pc·npad + jc·kc.
func (pb *PackedB) pack(kern *microKernel, p *params) {
	nr := kern.nr
	kBlocks := (p.k + kcMax - 1) / kcMax
	pb.kern, pb.transB, pb.k, pb.n = kern, p.transB, p.k, p.n
	pb.kcStep = (p.k + kBlocks - 1) / kBlocks
	pb.npad = roundUp(p.n, nr)
	if need := pb.npad * p.k; len(pb.data) < need {
		pb.mem, pb.data = alignedFloats(need)
	}
	for pc := 0; pc < p.k; pc += pb.kcStep {
		packB(pb.data[pc*pb.npad:], p, pc, min(pb.kcStep, p.k-pc), 0, p.n, nr)
	}
}

// block returns the packed kc×(npad−jc) block of op(B) at k offset pc (a multiple of kcStep)
// and column jc (a multiple of the panel width).
func (pb *PackedB) block(pc, kc, jc int) []float32 {
	off := pc*pb.npad + jc*kc
	return pb.data[off : off+kc*(pb.npad-jc)]
}

// SgemmPackedB is Sgemm with op(B) taken from pb: when valid is true and pb holds op(B) of
// this shape packed for the kernel in use, B is not packed again; otherwise B is packed into
// pb first. The caller passes valid = false whenever b may have changed since pb was packed
// from it. It reports whether pb now holds op(B) (false for shapes that are not worth keeping
// packed, computed as Sgemm does). The result is bit-identical to Sgemm's: the blocking, the
// kernel and the order of every addition are the same; only where the packed panels come
// from differs.
func SgemmPackedB(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int,
	pb *PackedB, valid bool, beta float32, c []float32, ldc int) bool {
	p := params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	if !packsB(m, n, k) {
		run(&p)
		return false
	}
	if !p.check() {
		return false
	}
	kern := activeKernel()
	if !valid || !pb.holds(kern, transB, k, n) {
		pb.pack(kern, &p)
	}
	p.pb = pb
	dispatch(&p)
	return true
}
