package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
)

// kernels lists every micro-kernel of this build, portable and assembly,
// each with what the CPU lacks to run it ("" if nothing).
func kernels() []kernelOption {
	return append([]kernelOption{{goKernel4x4, ""}, {goKernel2x4, ""}}, asmKernels...)
}

func kernelName(k *microKernel) string { return fmt.Sprintf("%s_%dx%d", k.name, k.mr, k.nr) }

// forKernels runs f as one subtest per kernel with the package switched to
// it, so one test run covers the assembly and the portable paths; a kernel
// the CPU cannot run is skipped with the features it lacks.
func forKernels(t *testing.T, f func(t *testing.T, k *microKernel)) {
	for _, o := range kernels() {
		t.Run(kernelName(o.kern), func(t *testing.T) {
			if o.lacks != "" {
				t.Skipf("this CPU lacks %s", o.lacks)
			}
			useKernel(t, o.kern)
			f(t, o.kern)
		})
	}
}

// useKernel switches the package to k for the rest of the test.
func useKernel(t testing.TB, k *microKernel) {
	old := active
	active = k
	t.Cleanup(func() { active = old })
}

// mat is a row-major matrix with stride ld ≥ cols; the slack after each
// row is filled with a sentinel so overwrites outside the matrix show up.
type mat struct {
	rows, cols, ld int
	data           []float32
}

const sentinel = 12345.5

func newMat(rng *rand.Rand, rows, cols, pad int, fill func() float32) mat {
	ld := max(cols, 1) + pad
	m := mat{rows, cols, ld, make([]float32, max(rows*ld, 1))}
	for i := range m.data {
		m.data[i] = sentinel
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			m.data[i*ld+j] = fill()
		}
	}
	return m
}

func (m mat) at(i, j int, trans bool) float64 {
	if trans {
		i, j = j, i
	}
	return float64(m.data[i*m.ld+j])
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// checkGemm runs f on one problem and compares it with a float64 reference,
// element by element, against |c−ref| ≤ tol·(|α|·Σ|a||b| + |β||c0|).
func checkGemm(t *testing.T, f gemmFunc, rng *rand.Rand, tA, tB bool, m, n, k int, alpha, beta float32) {
	t.Helper()
	uni := func() float32 { return rng.Float32()*2 - 1 }
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	a := newMat(rng, ar, ac, rng.IntN(4), uni)
	b := newMat(rng, br, bc, rng.IntN(4), uni)
	fillC := uni
	if beta == 0 {
		fillC = func() float32 { return float32(math.NaN()) }
	}
	c := newMat(rng, m, n, rng.IntN(4), fillC)
	c0 := append([]float32(nil), c.data...)

	f(tA, tB, m, n, k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld)

	const tol = 1e-5
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var ref, mag float64
			for p := 0; p < k; p++ {
				x, y := a.at(i, p, tA), b.at(p, j, tB)
				ref += x * y
				mag += math.Abs(x * y)
			}
			ref *= float64(alpha)
			mag *= math.Abs(float64(alpha))
			if beta != 0 {
				c0ij := float64(c0[i*c.ld+j])
				ref += float64(beta) * c0ij
				mag += math.Abs(float64(beta) * c0ij)
			}
			got := float64(c.data[i*c.ld+j])
			if !(math.Abs(got-ref) <= tol*mag+1e-30) {
				t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d α=%v β=%v: C[%d,%d]=%v want %v (bound %g)",
					tA, tB, m, n, k, alpha, beta, i, j, got, ref, tol*mag)
			}
		}
		for j := n; j < c.ld; j++ {
			if c.data[i*c.ld+j] != sentinel {
				t.Fatalf("m=%d n=%d k=%d: wrote outside C at row %d col %d", m, n, k, i, j)
			}
		}
	}
}

var scalars = []struct{ alpha, beta float32 }{
	{1, 0}, {0.75, -1.25}, {-2, 1}, {1.5, 0}, {1, 1},
}

func TestSgemmVariants(t *testing.T) {
	small := []int{1, 3, 7, 17}
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range small {
		for _, n := range small {
			for _, k := range small {
				shapes = append(shapes, shape{m, n, k})
			}
		}
	}
	// Odd sizes across tile, k-block (kc 256), m-block (mc 168) and
	// parallel thresholds.
	shapes = append(shapes,
		shape{33, 65, 130}, shape{65, 33, 17}, shape{130, 130, 130},
		shape{200, 47, 300}, shape{17, 250, 513}, shape{181, 97, 65},
		shape{390, 40, 129}, shape{64, 64, 32}, shape{64, 32, 64},
	)
	forKernels(t, func(t *testing.T, _ *microKernel) {
		for _, f := range []struct {
			name string
			fn   gemmFunc
		}{{"Sgemm", Sgemm}, {"SgemmSerial", SgemmSerial}} {
			for v := 0; v < 4; v++ {
				tA, tB := v&1 != 0, v&2 != 0
				t.Run(fmt.Sprintf("%s/tA=%v/tB=%v", f.name, tA, tB), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(v), 7))
					for i, s := range shapes {
						sc := scalars[i%len(scalars)]
						checkGemm(t, f.fn, rng, tA, tB, s.m, s.n, s.k, sc.alpha, sc.beta)
					}
				})
			}
		}
	})
}

// TestWideC covers a C wider than one nc block (ncMax), in every transpose and on every
// kernel: the last block's columns end in a partial panel, which the packer zero-pads within
// the workspace (with ncMax not a multiple of the 12×32 kernel's nr this overran it: a
// 32,000-token vocabulary's head crashed on AVX-512).
func TestWideC(t *testing.T) {
	forKernels(t, func(t *testing.T, _ *microKernel) {
		rng := rand.New(rand.NewPCG(4100, 1))
		for v := 0; v < 4; v++ {
			checkGemm(t, SgemmSerial, rng, v&1 != 0, v&2 != 0, 5, ncMax+37, 7, 1, 0)
			checkGemm(t, sgemmBF16, rng, v&1 != 0, v&2 != 0, 5, ncMax+37, 7, 1, 0)
		}
	})
}

// TestSgemmModelShapes covers a tall transformer-style shape per variant on
// the parallel path.
func TestSgemmModelShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	forKernels(t, func(t *testing.T, _ *microKernel) {
		rng := rand.New(rand.NewPCG(1, 2))
		checkGemm(t, Sgemm, rng, false, false, 1031, 40, 128, 1, 0)   // forward / dX
		checkGemm(t, Sgemm, rng, false, true, 1031, 72, 40, 1, 0)     // Y = X·Wᵀ
		checkGemm(t, Sgemm, rng, true, false, 40, 72, 1031, 0.5, 1)   // dW = dYᵀ·X
		checkGemm(t, Sgemm, rng, true, true, 50, 33, 700, -1, 0.25)   // both transposed
		checkGemm(t, Sgemm, rng, true, false, 33, 20, 2000, 1.5, 0)   // k-split, NaN C
		checkGemm(t, Sgemm, rng, false, true, 17, 9, 1500, -1, 0.5)   // k-split, other ops
		checkGemm(t, Sgemm, rng, false, false, 300, 300, 300, 1, 0.5) // square, 2-D task grid
	})
}

func TestDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	c := []float32{nan, 2, nan, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2) // k = 0, beta = 0: zeros
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0 beta=0: got %v", c)
		}
	}
	c = []float32{1, 2, 3, 4}
	a := []float32{nan, nan}
	Sgemm(false, false, 2, 2, 1, 0, a, 1, a, 2, 2, c, 2) // alpha = 0: C = beta·C, A unread
	if c[0] != 2 || c[3] != 8 {
		t.Fatalf("alpha=0: got %v", c)
	}
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, nil, 5, 0, nil, 5) // empty
	mustPanic(t, func() {
		Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	mustPanic(t, func() {
		Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	mustPanic(t, func() { SgemmSerial(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) })
}

func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	f()
}

// TestConcurrentCalls runs parallel Sgemms from several goroutines at once,
// which shares the worker pool and the buffer pools between calls.
func TestConcurrentCalls(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, n, k := 150+g, 90, 120
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range b {
				b[i] = float32(i%5) - 2
			}
			c := make([]float32, m*n)
			for rep := 0; rep < 5; rep++ {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := 0; i < m; i += 37 {
					for j := 0; j < n; j += 11 {
						var want float32
						for p := 0; p < k; p++ {
							want += a[i*k+p] * b[p*n+j]
						}
						if c[i*n+j] != want { // small integers: exact
							t.Errorf("goroutine %d: C[%d,%d]=%v want %v", g, i, j, c[i*n+j], want)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestAllocs checks that steady-state calls do not allocate: SgemmSerial via
// testing.AllocsPerRun, parallel Sgemm via MemStats (AllocsPerRun pins
// GOMAXPROCS to 1, which would take the serial path).
func TestAllocs(t *testing.T) {
	forKernels(t, func(t *testing.T, kern *microKernel) {
		for _, s := range [][3]int{{64, 64, 32}, {100, 70, 300}} {
			m, n, k := s[0], s[1], s[2]
			a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
			got := testing.AllocsPerRun(10, func() {
				SgemmSerial(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			})
			if got != 0 {
				t.Errorf("%s SgemmSerial %v: %v allocs/op", kernelName(kern), s, got)
			}
		}
	})

	// The parallel path's machinery (worker pool, call and buffer free
	// lists) does not depend on the kernel; use the default one.
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	m, n, k := 192, 192, 192
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	call := func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }
	for i := 0; i < 30; i++ { // until every worker has claimed a task and sized its buffers
		call()
	}
	// With the collector paused, only allocations on our path count. The
	// one kind left is the runtime's: when a goroutine has to park (a worker
	// waiting for work, or the caller when a helper was descheduled by the
	// OS on a busy machine) and its P's waiter cache is empty, the runtime
	// allocates a waiter record. That is rare, not per call, so the bound is
	// "well under one per call".
	gcPercent := debug.SetGCPercent(-1)
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		call()
	}
	runtime.ReadMemStats(&after)
	debug.SetGCPercent(gcPercent)
	per := float64(after.Mallocs-before.Mallocs) / runs
	if per >= 0.25 {
		t.Errorf("Sgemm 192³ parallel (%s): %.2f allocs/op", Kernel(), per)
	}
	t.Logf("Sgemm 192³ parallel (%s): %.2f allocs/op", Kernel(), per)
}

// TestKernels checks the init-time choice and the AGRPO_GEMM_KERNEL and
// AGRPO_PUREGO switches, and logs which kernels this machine ran (.ci/run
// prints that line).
func TestKernels(t *testing.T) {
	// Reading the variables here also puts them in the test cache key, so
	// a run with another switch does not reuse a cached result.
	forced, pureGo := os.Getenv("AGRPO_GEMM_KERNEL"), os.Getenv("AGRPO_PUREGO") == "1"
	want, err := chooseKernel(forced, pureGo)
	if err != nil || Kernel() != want.name {
		t.Fatalf("Kernel() = %q, want %v (%v)", Kernel(), want, err)
	}
	if pureGo && Kernel() != "go" {
		t.Fatalf("AGRPO_PUREGO=1 but Kernel() = %q", Kernel())
	}
	if k, _ := chooseKernel("avx2", true); k != goKernel {
		t.Fatal("AGRPO_PUREGO=1 must select the Go kernel whatever AGRPO_GEMM_KERNEL says")
	}
	if _, err := chooseKernel("sse9", false); err == nil {
		t.Fatal("an unknown AGRPO_GEMM_KERNEL must be an error")
	}
	checkMissingKernel(t)
	var ran, skipped []string
	def, _ := chooseKernel("", false)
	for _, o := range asmKernels {
		k, err := chooseKernel(o.kern.name, false)
		if o.lacks != "" {
			if err == nil || !strings.Contains(err.Error(), o.lacks) {
				t.Errorf("forcing %s on a CPU without %s: err = %v", o.kern.name, o.lacks, err)
			}
			skipped = append(skipped, fmt.Sprintf("%s (CPU lacks %s)", o.kern.name, o.lacks))
			continue
		}
		if k != o.kern {
			t.Errorf("AGRPO_GEMM_KERNEL=%s chose %v", o.kern.name, k)
		}
		if len(ran) == 0 && def != o.kern {
			t.Errorf("default kernel %s, want the fastest this CPU runs, %s", def.name, o.kern.name)
		}
		ran = append(ran, o.kern.name)
	}
	if len(ran) == 0 && def != goKernel {
		t.Errorf("default kernel %s without a runnable assembly kernel", def.name)
	}
	if got := Kernels(); strings.Join(got, " ") != strings.Join(append(ran, "go"), " ") {
		t.Errorf("Kernels() = %v, want %v", got, append(ran, "go"))
	}
	t.Logf("gemm kernels tested: %s; skipped: %s; in use: %s",
		strings.Join(append(ran, "go"), ", "), strings.Join(append(skipped, "none")[:max(1, len(skipped))], ", "), Kernel())
}

// checkMissingKernel puts a kernel no CPU has first in line: the default
// choice must pass over it, and forcing it must fail naming the feature.
func checkMissingKernel(t *testing.T) {
	saved := asmKernels
	defer func() { asmKernels = saved }()
	asmKernels = append([]kernelOption{{&microKernel{name: "avx1024", mr: 1, nr: 1}, "avx1024f"}}, saved...)
	if k, _ := chooseKernel("", false); k.name == "avx1024" {
		t.Error("the default choice took a kernel the CPU lacks")
	}
	if _, err := chooseKernel("avx1024", false); err == nil || !strings.Contains(err.Error(), "lacks avx1024f") {
		t.Errorf("forcing a kernel the CPU lacks: err = %v", err)
	}
	if slices.Contains(Kernels(), "avx1024") {
		t.Errorf("Kernels() = %v lists a kernel the CPU lacks", Kernels())
	}
}

// TestPack checks the packers (the assembly ones where the width has one)
// against the packed layout of pack.go, element by element, for every
// kernel's panel widths, ragged panels (valid < w) and k-step counts
// around the assembly blocks of 8, in both storage orders.
func TestPack(t *testing.T) {
	const ld = 101 // wider than any packed row, so rows do not run into each other
	src := make([]float32, 80*ld)
	for i := range src {
		src[i] = float32(i + 1)
	}
	for _, w := range []int{2, 4, 6, 12, 16, 32} {
		for _, kc := range []int{1, 7, 8, 9, 17, 40} {
			for valid := 1; valid <= w; valid++ {
				// gather: column r of the panel is source row r, k-steps along it
				dst := make([]float32, kc*w)
				for i := range dst {
					dst[i] = sentinel
				}
				packGather(dst, src, 3, ld, kc, w, valid)
				for p := 0; p < kc; p++ {
					for r := 0; r < w; r++ {
						want := float32(0)
						if r < valid {
							want = src[3+r*ld+p]
						}
						if got := dst[p*w+r]; got != want {
							t.Fatalf("packGather w=%d kc=%d valid=%d: [k %d, col %d] = %v, want %v", w, kc, valid, p, r, got, want)
						}
					}
				}
			}
			// contiguous: two full panels and a ragged one of each width
			total := 2*w + w/2 + 1
			dst := make([]float32, 3*w*kc)
			packContig(dst, src, 5, ld, kc, total, w)
			for q := 0; q < 3; q++ {
				for p := 0; p < kc; p++ {
					for j := 0; j < w; j++ {
						want := float32(0)
						if c := q*w + j; c < total {
							want = src[5+p*ld+c]
						}
						if got := dst[q*w*kc+p*w+j]; got != want {
							t.Fatalf("packContig w=%d kc=%d: panel %d [k %d, col %d] = %v, want %v", w, kc, q, p, j, got, want)
						}
					}
				}
			}
		}
	}
}
