// Package par runs loops in parallel on one pool of persistent goroutines, shared by the CPU
// backend's ops and its GEMM, so that a steady-state parallel loop allocates nothing.
//
// A loop's body is a value that implements Body and is owned by its caller (the op's arguments,
// reused from call to call), not a closure: a function value handed to other goroutines escapes
// to the heap (`go build -gcflags=-m` reports "func literal escapes to heap"), which would cost
// one allocation per call.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Body is one parallel loop: Run handles items [lo, hi), which form chunk c of the split
// (0 ≤ c < the number of chunks ≤ the threads asked for), so a body may keep per-chunk scratch
// or per-chunk partial results indexed by c.
type Body interface {
	Run(c, lo, hi int)
}

// Loop is the dispatch state of one parallel loop. Its owner keeps one and reuses it for one
// run at a time, so a run allocates nothing; the zero value is ready to use.
type Loop struct {
	body    Body
	n       int
	chunk   int
	chunks  int
	next    atomic.Int64
	pending atomic.Int32 // helpers not yet done, for the caller's spin
	wg      sync.WaitGroup
}

// Run splits [0, n) into equal contiguous chunks (the last may be shorter), one per thread but
// no more than ⌈n/grain⌉, and runs body on them: the calling goroutine and up to threads-1 of
// the pool's goroutines claim chunks until none are left, and Run returns when every chunk is
// done. A split into one chunk runs on the caller alone. A body must not call Run itself (the
// pool's goroutines could all end up waiting for each other): nested work uses its serial
// form, like gemm.SgemmSerial.
func (l *Loop) Run(threads, n, grain int, body Body) {
	workers := threads
	if grain < 1 {
		grain = 1
	}
	if maxW := (n + grain - 1) / grain; workers > maxW {
		workers = maxW
	}
	if workers <= 1 {
		if n > 0 {
			body.Run(0, 0, n)
		}
		return
	}
	chunk := (n + workers - 1) / workers
	chunks := (n + chunk - 1) / chunk
	l.body, l.n, l.chunk, l.chunks = body, n, chunk, chunks
	l.next.Store(0)
	helpers := chunks - 1
	ensureWorkers(threads - 1)
	l.pending.Store(int32(helpers))
	l.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		work <- l
	}
	defer l.finish() // also when the caller's chunk panics, so no helper outlives the run
	l.runChunks()
}

// runChunks claims and runs chunks until none are left.
func (l *Loop) runChunks() {
	for {
		c := int(l.next.Add(1) - 1)
		if c >= l.chunks {
			return
		}
		lo := c * l.chunk
		l.body.Run(c, lo, min(l.n, lo+l.chunk))
	}
}

// spinYields bounds the caller's wait-by-yielding before it parks (~tens of µs).
const spinYields = 256

// finish waits for the helpers: a brief yield-spin first (they are at most one chunk behind),
// which also keeps steady-state runs clear of the runtime's occasional allocation of a waiter
// record when a goroutine parks.
func (l *Loop) finish() {
	for i := 0; i < spinYields && l.pending.Load() > 0; i++ {
		runtime.Gosched()
	}
	l.wg.Wait()
	l.body = nil // drop the reference to the caller's arguments
}

// The pool: persistent goroutines shared by every caller, started on demand up to the largest
// threads-1 any run asked for (the caller of a run is its last worker).
var (
	work      = make(chan *Loop, 256)
	workersMu sync.Mutex
	started   atomic.Int32
)

func ensureWorkers(n int) {
	if int(started.Load()) >= n {
		return
	}
	workersMu.Lock()
	defer workersMu.Unlock()
	for int(started.Load()) < n {
		started.Add(1)
		go worker()
	}
}

func worker() {
	for l := range work {
		l.runChunks()
		l.pending.Add(-1)
		l.wg.Done()
	}
}
