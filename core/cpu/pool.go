package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ranger is one parallel loop body: run handles items [lo, hi), which form chunk w of the
// split (0 ≤ w < the number of chunks ≤ the backend's thread count), so a body may keep
// per-chunk scratch indexed by w. Bodies are structs owned by the Backend and refilled per call,
// so dispatching a loop allocates nothing.
type ranger interface {
	run(w, lo, hi int)
}

// job is one parallel loop, handed to the pool workers; each Backend owns one and reuses it.
type job struct {
	body    ranger
	n       int
	chunk   int
	chunks  int
	next    atomic.Int64
	pending atomic.Int32
	wg      sync.WaitGroup
}

// runChunks claims and runs chunks until none are left.
func (j *job) runChunks() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		lo := c * j.chunk
		j.body.run(c, lo, min(j.n, lo+j.chunk))
	}
}

// The pool: persistent goroutines shared by all CPU backends, started on demand up to
// threads-1 (the caller is the last worker).
var (
	poolCh      = make(chan *job, 256)
	poolMu      sync.Mutex
	poolWorkers atomic.Int32
)

func ensurePoolWorkers(n int) {
	if int(poolWorkers.Load()) >= n {
		return
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	for int(poolWorkers.Load()) < n {
		poolWorkers.Add(1)
		go poolWorker()
	}
}

func poolWorker() {
	for j := range poolCh {
		j.runChunks()
		j.pending.Add(-1)
		j.wg.Done()
	}
}

// poolSpinYields bounds the caller's wait-by-yielding before it parks (~tens of µs).
const poolSpinYields = 256

// parallel splits [0, n) into contiguous chunks of at least grain items, at most one per
// thread, and runs body on them with the pool's workers; small n runs inline.
func (b *Backend) parallel(n, grain int, body ranger) {
	workers := b.threads
	if grain < 1 {
		grain = 1
	}
	if maxW := (n + grain - 1) / grain; workers > maxW {
		workers = maxW
	}
	if workers <= 1 {
		if n > 0 {
			body.run(0, 0, n)
		}
		return
	}
	chunk := (n + workers - 1) / workers
	chunks := (n + chunk - 1) / chunk
	j := &b.job
	j.body, j.n, j.chunk, j.chunks = body, n, chunk, chunks
	j.next.Store(0)
	helpers := chunks - 1
	ensurePoolWorkers(b.threads - 1)
	j.pending.Store(int32(helpers))
	j.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		poolCh <- j
	}
	defer j.finish() // also when the caller's chunk panics, so no helper outlives the call
	j.runChunks()
}

// finish waits for the helpers: a brief yield-spin first (they are at most one chunk behind),
// which also keeps steady-state calls clear of the runtime's occasional allocations on parking.
func (j *job) finish() {
	for i := 0; i < poolSpinYields && j.pending.Load() > 0; i++ {
		runtime.Gosched()
	}
	j.wg.Wait()
	j.body = nil
}

// floats returns (*buf)[:n], growing the buffer when it is too short; contents are undefined.
func floats(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// chunkScratch returns per-chunk buffer w of at least n floats from bufs (len ≥ threads).
func chunkScratch(bufs [][]float32, w, n int) []float32 {
	return floats(&bufs[w], n)
}
