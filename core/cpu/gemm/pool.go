package gemm

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/dllmrl/agrpo/core/cpu/par"
)

// workspace holds one goroutine's packing buffers. Buffers only grow, so a
// steady-state caller never allocates.
type workspace struct {
	a, b       []float32 // packed op(A) block and op(B) block, 64-byte aligned
	aBuf, bBuf []float32 // backing storage of a and b
	tmp        [maxTile]float32
}

// maxTile bounds mr·nr over all micro-kernels (edge-tile scratch).
const maxTile = 12 * 32

// reserve makes ws.a and ws.b at least na and nb floats long, growing
// geometrically so a workspace that serves mixed shapes settles quickly.
func (ws *workspace) reserve(na, nb int) {
	if len(ws.a) < na {
		ws.aBuf, ws.a = alignedFloats(max(na, 2*len(ws.a)))
	}
	if len(ws.b) < nb {
		ws.bBuf, ws.b = alignedFloats(max(nb, 2*len(ws.b)))
	}
}

// alignedFloats returns backing storage and an n-float window of it that
// starts on a cache line, so packed panels never straddle lines needlessly.
func alignedFloats(n int) (buf, win []float32) {
	buf = make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf, buf[off : off+n : off+n]
}

// freeList is a mutex-guarded stack of reusable objects. Unlike sync.Pool it
// is not emptied by the garbage collector, so multi-megabyte packing buffers
// are not re-allocated after every couple of GC cycles; it holds as many
// objects as there were concurrent calls at peak.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.items); n > 0 {
		x := f.items[n-1]
		f.items = f.items[:n-1]
		return x
	}
	return new(T)
}

func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	f.items = append(f.items, x)
	f.mu.Unlock()
}

// workspaces serves SgemmSerial and every goroutine taking part in a parallel Sgemm.
var workspaces freeList[workspace]

func getWorkspace() *workspace   { return workspaces.get() }
func putWorkspace(ws *workspace) { workspaces.put(ws) }

// call is one parallel Sgemm. Either C is cut into an im×jn grid of tasks,
// or (for a small C with a long k, like the weight gradient dW = dYᵀ·X)
// k is cut into ks slices: slice 0 accumulates into C, the others into
// private partial products that the caller adds in at the end. The caller
// and the goroutines of the shared pool (package par) claim tasks
// dynamically, which also evens out cores that other processes are busy on.
// Calls are recycled through a free list so dispatching allocates nothing.
type call struct {
	p            params
	kern         *microKernel
	im, jn       int // task grid
	mStep, nStep int // task size (multiples of mr, nr)
	ks, kStep    int // k slices (ks > 1 selects k-splitting)
	part         []float32
	next         atomic.Int64
	loop         par.Loop
}

var calls freeList[call]

func (cl *call) tasks() int {
	if cl.ks > 1 {
		return cl.ks
	}
	return cl.im * cl.jn
}

// runTasks claims and computes tasks until none are left.
func (cl *call) runTasks(ws *workspace) {
	p := &cl.p
	total := int64(cl.tasks())
	for {
		t := cl.next.Add(1) - 1
		if t >= total {
			return
		}
		if cl.ks > 1 {
			k0 := int(t) * cl.kStep
			k1 := min(p.k, k0+cl.kStep)
			if t == 0 {
				ws.block(p, cl.kern, 0, p.m, 0, p.n, k0, k1, p.c, p.ldc, p.beta)
			} else {
				part := cl.part[(int(t)-1)*p.m*p.n : int(t)*p.m*p.n]
				ws.block(p, cl.kern, 0, p.m, 0, p.n, k0, k1, part, p.n, 0)
			}
			continue
		}
		ti, tj := int(t)/cl.jn, int(t)%cl.jn
		i0, j0 := ti*cl.mStep, tj*cl.nStep
		i1, j1 := min(p.m, i0+cl.mStep), min(p.n, j0+cl.nStep)
		if i0 < i1 && j0 < j1 {
			ws.block(p, cl.kern, i0, i1, j0, j1, 0, p.k, p.c, p.ldc, p.beta)
		}
	}
}

// reduce adds the partial products of slices 1..ks-1 into C.
func (cl *call) reduce() {
	p := &cl.p
	for s := 1; s < cl.ks; s++ {
		part := cl.part[(s-1)*p.m*p.n : s*p.m*p.n]
		for i := 0; i < p.m; i++ {
			dst := p.c[i*p.ldc : i*p.ldc+p.n]
			src := part[i*p.n : i*p.n+p.n]
			for j, v := range src {
				dst[j] += v
			}
		}
	}
}

// taskGrid cuts an m×n C into about `want` tasks, splitting whichever
// dimension is currently longer so tasks stay squarish: that minimises the
// re-packing each task does of its A rows and B columns.
func taskGrid(m, n, mr, nr, want int) (im, jn, mStep, nStep int) {
	im, jn = 1, 1
	for im*jn < want {
		canM := m/(im+1) >= mr
		canN := n/(jn+1) >= nr
		switch {
		case canM && (!canN || m*jn >= n*im):
			im++
		case canN:
			jn++
		default:
			return finishGrid(m, n, mr, nr, im, jn)
		}
	}
	return finishGrid(m, n, mr, nr, im, jn)
}

func finishGrid(m, n, mr, nr, im, jn int) (int, int, int, int) {
	mStep := roundUp((m+im-1)/im, mr)
	nStep := roundUp((n+jn-1)/jn, nr)
	return (m + mStep - 1) / mStep, (n + nStep - 1) / nStep, mStep, nStep
}

// tasksPerProc is how many tasks each goroutine gets on average: more than
// one lets a core that finishes early (or was not stolen by another process)
// take over work, at the price of some re-packing.
const tasksPerProc = 2

// kSplit reports how many k slices to use for an m×n×k product: only when
// C is small next to k (cutting C would leave thin tasks that each stream a
// strided slice of A or B for little work) and the partial products are
// cheap to add up. One slice per goroutine keeps that reduction small.
func kSplit(m, n, k, procs int) int {
	if k < 4*kcMax || k < 4*max(m, n) || m*n > 1<<19 {
		return 1
	}
	return min(procs, k/kcMax)
}

func runParallel(p *params, procs int, flops float64) {
	kern := activeKernel()
	want := procs * tasksPerProc
	if maxT := int(flops / minTaskFlops); maxT < want {
		want = max(maxT, 1)
	}
	cl := calls.get()
	cl.p, cl.kern = *p, kern
	cl.ks = kSplit(p.m, p.n, p.k, procs)
	if p.pb != nil {
		cl.ks = 1 // a B packed ahead is blocked over the whole of k
	}
	if cl.ks > 1 {
		cl.kStep = (p.k + cl.ks - 1) / cl.ks
		cl.ks = (p.k + cl.kStep - 1) / cl.kStep
		if need := (cl.ks - 1) * p.m * p.n; len(cl.part) < need {
			cl.part = make([]float32, need)
		}
	} else {
		cl.im, cl.jn, cl.mStep, cl.nStep = taskGrid(p.m, p.n, kern.mr, kern.nr, want)
	}
	tasks := cl.tasks()
	if tasks < 2 {
		cl.p = params{}
		calls.put(cl)
		runSerial(p)
		return
	}
	cl.next.Store(0)
	// One chunk of the pool's loop per goroutine taking part; each claims tasks until none are left.
	cl.loop.Run(procs, min(procs, tasks), 1, cl)
	if cl.ks > 1 {
		cl.reduce()
	}
	cl.p = params{} // drop references to the caller's slices
	calls.put(cl)
}

// Run is one goroutine's part of a parallel call (a par.Body): with a packing workspace of its
// own, it computes tasks until none are left.
func (cl *call) Run(_, _, _ int) {
	ws := getWorkspace()
	cl.runTasks(ws)
	putWorkspace(ws)
}
