// Package gemm is the CPU matrix-multiply seam of the training engine: a
// packed, cache-blocked single-precision GEMM for row-major matrices in the
// Goto/BLIS style.
//
// Panels of op(A) and op(B) are packed into contiguous buffers per kc×mc and
// kc×nc block (the packers absorb all four transpose variants, so no
// transposed copy of a whole matrix is ever made), and a register-blocked
// micro-kernel runs over the packed panels: AVX-512 or AVX2+FMA assembly on
// amd64, whichever is the widest the CPU has (chosen at run time), a
// pure-Go kernel elsewhere (other architectures, wasm, the purego build
// tag, or AGRPO_PUREGO=1 in the environment at start-up;
// AGRPO_GEMM_KERNEL=avx512|avx2|go forces one the CPU can run). The
// one exception to packing: with the assembly kernel, op(A) feeding a
// narrow C (n ≤ 128 per task, as in the transformer's layers) is read in
// place, since each value would be reused too few times to repay the
// packing pass.
package gemm

import (
	"fmt"
	"runtime"
)

// Blocking parameters. kcMax·nr floats of packed B (16 KiB for the 6×16
// kernel, 32 KiB for 12×32) stay in L1 while a micro-panel row is swept, mcMax·kcMax floats of
// packed A (~170 KiB) stay in L2, and the kcMax·ncMax block of packed B lives
// in L2/L3.
const (
	kcMax = 256
	mcMax = 168  // multiple of every kernel's mr (12, 6, 4, 2)
	ncMax = 4064 // multiple of every kernel's nr (32, 16, 4): the packers fill whole panels
)

// serialFlops is the problem size (2·m·n·k) below which Sgemm stays on the
// calling goroutine: waking a parked worker costs microseconds, as much as
// a split saves on problems this small (2 MFLOP ≈ 100³ ≈ 30 µs on one
// core). On the 2-core dev machine (BenchmarkThreshold) the parallel path
// did not beat the serial one at 96³ and below.
const serialFlops = 1 << 21

// minTaskFlops keeps parallel tasks big enough that re-packing the shared
// operand per task stays a small fraction of the work.
const minTaskFlops = 1 << 21

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n; lda/ldb/ldc are row
// strides (elements). When beta == 0, C is overwritten (NaNs in C are not
// propagated). It uses all cores (runtime.GOMAXPROCS) through the persistent
// worker pool it shares with the CPU backend's ops (package par), so a
// steady-state call does not allocate; small problems run on the calling
// goroutine. Inside a loop already running on that pool, call SgemmSerial.
// Invalid arguments panic, as in BLAS.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	run(&params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc})
}

// run checks one product and computes it (dispatch).
func run(p *params) {
	if !p.check() {
		return
	}
	dispatch(p)
}

// dispatch computes a checked product, on the calling goroutine when it is small, else on the
// pool.
func dispatch(p *params) {
	procs := runtime.GOMAXPROCS(0)
	flops := 2 * float64(p.m) * float64(p.n) * float64(p.k)
	if procs < 2 || flops < serialFlops {
		runSerial(p)
		return
	}
	runParallel(p, procs, flops)
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already run in parallel (e.g. one goroutine per attention head). Its
// packing buffers come from a free list (one per concurrent caller at
// peak), so a steady-state call does not allocate.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	if !p.check() {
		return
	}
	runSerial(&p)
}

// Sgemm16 is Sgemm with B held as 16-bit floats — bfloat16, or IEEE half when half is set —
// which the packer widens exactly to float32 as it copies B's panels, so the product
// accumulates in float32 as Sgemm's does and equals Sgemm on the widened B bit for bit. It lets
// weights stay 16-bit in memory.
func Sgemm16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, half bool, ldb int, beta float32, c []float32, ldc int) {
	run(&params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b16: b, half: half, ldb: ldb, beta: beta, c: c, ldc: ldc})
}

// params is one GEMM call's arguments, kept together so the driver and the
// worker pool pass a single pointer around.
type params struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	b16            []uint16 // B as 16-bit floats (Sgemm16), when b is nil
	half           bool     // b16 holds IEEE halves rather than bfloat16
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	pb             *PackedB // op(B) packed ahead (see SgemmPackedB), or nil: packed per block
}

// check validates the arguments (panicking like BLAS on misuse) and handles
// the degenerate cases. It reports whether the product still has to be
// computed.
func (p *params) check() bool {
	if p.m < 0 || p.n < 0 || p.k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", p.m, p.n, p.k))
	}
	ar, ac := p.m, p.k // stored shape of A
	if p.transA {
		ar, ac = p.k, p.m
	}
	br, bc := p.k, p.n
	if p.transB {
		br, bc = p.n, p.k
	}
	checkLd("a", ac, p.lda)
	checkLd("b", bc, p.ldb)
	checkLd("c", p.n, p.ldc)
	if p.m == 0 || p.n == 0 {
		return false
	}
	checkLen("c", p.m, p.n, len(p.c), p.ldc)
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return false
	}
	checkLen("a", ar, ac, len(p.a), p.lda)
	checkLen("b", br, bc, max(len(p.b), len(p.b16)), p.ldb)
	return true
}

func checkLd(name string, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: ld%s=%d < %d columns", name, ld, cols))
	}
}

func checkLen(name string, rows, cols, n, ld int) {
	if n < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: len(%s)=%d too short for %d×%d with stride %d", name, n, rows, cols, ld))
	}
}

// scaleC sets C = beta·C, writing zeros (not 0·NaN) when beta == 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// runSerial computes the whole product with a pooled workspace.
func runSerial(p *params) {
	ws := getWorkspace()
	ws.block(p, activeKernel(), 0, p.m, 0, p.n, 0, p.k, p.c, p.ldc, p.beta)
	putWorkspace(ws)
}

// block computes rows [i0,i1) × columns [j0,j1) of alpha·op(A)·op(B) over
// k in [k0,k1), storing into c (element (i,j) at c[i·ldc+j]) scaled onto
// beta·c. The loop order is Goto's: jc → pc → ic, then jr → ir inside the
// macro-kernel.
func (ws *workspace) block(p *params, kern *microKernel, i0, i1, j0, j1, k0, k1 int, c []float32, ldc int, beta float32) {
	mr, nr := kern.mr, kern.nr
	// Balance the k blocks (e.g. k=384 → 2×192, not 256+128) so no block is
	// a short, overhead-dominated tail.
	kBlocks := (k1 - k0 + kcMax - 1) / kcMax
	kcStep := (k1 - k0 + kBlocks - 1) / kBlocks
	mBlocks := (i1 - i0 + mcMax - 1) / mcMax
	mcStep := roundUp((i1-i0+mBlocks-1)/mBlocks, mr)
	ncStep := min(ncMax, roundUp(j1-j0, nr))
	inPlace := inPlaceA(kern, j1-j0)

	// With several k blocks but a narrow C (the model's k=384, n=128
	// layers), pack all of op(B) up front and run the k blocks innermost:
	// each mc-row stripe of C then stays in L2 across its k blocks instead
	// of being streamed through memory once per k block.
	bAll := roundUp(j1-j0, nr) * (k1 - k0)
	bSpace := 1 // packing space for B is needed unless B came packed
	if p.pb != nil {
		bSpace = 0
	}
	if kBlocks > 1 && ncStep >= j1-j0 && bAll <= allBMax {
		ws.reserve(mcStep*kcStep, bSpace*bAll)
		nc := j1 - j0
		if p.pb == nil {
			for pc := k0; pc < k1; pc += kcStep {
				packB(ws.b[(pc-k0)*ncStep:], p, pc, min(kcStep, k1-pc), j0, nc, nr)
			}
		}
		for ic := i0; ic < i1; ic += mcStep {
			mc := min(mcStep, i1-ic)
			for pc := k0; pc < k1; pc += kcStep {
				kc := min(kcStep, k1-pc)
				b := beta
				if pc > k0 {
					b = 1
				}
				var bp []float32
				if p.pb != nil {
					bp = p.pb.block(pc, kc, j0)
				} else {
					bp = ws.b[(pc-k0)*ncStep:]
				}
				aIn, rsA, csA := ws.prepareA(p, kern, inPlace, ic, mc, pc, kc)
				ws.macro(kern, mc, nc, kc, aIn, rsA, csA, bp, c[ic*ldc+j0:], ldc, p.alpha, b)
			}
		}
		return
	}

	ws.reserve(mcStep*kcStep, bSpace*ncStep*kcStep)
	for jc := j0; jc < j1; jc += ncStep {
		nc := min(ncStep, j1-jc)
		for pc := k0; pc < k1; pc += kcStep {
			kc := min(kcStep, k1-pc)
			b := beta
			if pc > k0 {
				b = 1 // later k blocks accumulate onto the first one
			}
			pb := ws.bBlock(ws.b, p, pc, kc, jc, nc, nr)
			for ic := i0; ic < i1; ic += mcStep {
				mc := min(mcStep, i1-ic)
				aIn, rsA, csA := ws.prepareA(p, kern, inPlace, ic, mc, pc, kc)
				ws.macro(kern, mc, nc, kc, aIn, rsA, csA, pb, c[ic*ldc+jc:], ldc, p.alpha, b)
			}
		}
	}
}

// bBlock returns the packed kc×nc block of op(B) at (pc, jc): the caller's (p.pb) when B came
// packed, else packed into dst.
func (ws *workspace) bBlock(dst []float32, p *params, pc, kc, jc, nc, nr int) []float32 {
	if p.pb != nil {
		return p.pb.block(pc, kc, jc)
	}
	packB(dst, p, pc, kc, jc, nc, nr)
	return dst
}

// allBMax bounds (in floats) the all-k packed op(B) of block's
// narrow-C order, so that it shares L2 with a stripe of C and of A.
const allBMax = 64 << 10

// prepareA readies the mc×kc block of op(A) at (ic, pc) for macro: packed
// into ws.a, or (inPlace) returned as aIn with op(A)(i,k) at
// aIn[i·rsA + k·csA], only a ragged last panel being packed (zero-padded)
// where macro expects it.
func (ws *workspace) prepareA(p *params, kern *microKernel, inPlace bool, ic, mc, pc, kc int) (aIn []float32, rsA, csA int) {
	mr := kern.mr
	if !inPlace {
		packA(ws.a, p, ic, mc, pc, kc, mr)
		return nil, 0, 0
	}
	if full := mc / mr * mr; full < mc {
		packA(ws.a[full*kc:], p, ic+full, mc-full, pc, kc, mr)
	}
	if p.transA {
		return p.a[pc*p.lda+ic:], 1, p.lda
	}
	return p.a[ic*p.lda+pc:], p.lda, 1
}

// inPlaceNMax is the widest op(B) block for which A is read in place rather
// than packed. Packing pays for itself when each packed A value is reused
// by many B panels; with few (the engine's n = 32…128 layers) the packing
// pass is a large share of the work, and the kernel's strided reads of A
// (six row streams, or one line per k-step for Aᵀ) prefetch well.
const inPlaceNMax = 128

// inPlaceA reports whether block reads full A panels in place.
func inPlaceA(kern *microKernel, nc int) bool {
	return kern.fnInPlace != nil && nc <= inPlaceNMax
}

// macro runs the micro-kernel over an mc×nc block of C from packed panels
// (B from pb; A from ws.a or, when aIn is non-nil, full A panels read in place: op(A)(i,k) at
// aIn[i·rsA + k·csA]). Full tiles go straight to C; edge tiles are computed
// into ws.tmp (the packed panels are zero-padded) and only the valid part
// is copied out.
func (ws *workspace) macro(kern *microKernel, mc, nc, kc int, aIn []float32, rsA, csA int, pb []float32, c []float32, ldc int, alpha, beta float32) {
	mr, nr := kern.mr, kern.nr
	tmp := ws.tmp[:mr*nr]
	for jr := 0; jr < nc; jr += nr {
		nb := min(nr, nc-jr)
		bp := pb[jr*kc:]
		for ir := 0; ir < mc; ir += mr {
			mb := min(mr, mc-ir)
			dst, ldd, bd := c[ir*ldc+jr:], ldc, beta
			if mb < mr || nb < nr {
				dst, ldd, bd = tmp, nr, 0
			}
			if aIn != nil && mb == mr {
				kern.fnInPlace(kc, aIn[ir*rsA:], rsA, csA, bp, dst, ldd, alpha, bd)
			} else {
				kern.fn(kc, ws.a[ir*kc:], bp, dst, ldd, alpha, bd)
			}
			if mb == mr && nb == nr {
				continue
			}
			for i := 0; i < mb; i++ {
				dst := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nb]
				src := tmp[i*nr : i*nr+nb]
				if beta == 0 {
					copy(dst, src)
					continue
				}
				for j, v := range src {
					dst[j] = v + beta*dst[j]
				}
			}
		}
	}
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }
