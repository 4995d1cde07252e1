package par

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// record is a Body that counts how often each item was run and which range each chunk had.
type record struct {
	hits   []atomic.Int32
	lo, hi []atomic.Int64 // per chunk, +1 so that 0 means "not run"
	calls  []atomic.Int32 // per chunk
}

func newRecord(n, threads int) *record {
	return &record{hits: make([]atomic.Int32, n), lo: make([]atomic.Int64, threads),
		hi: make([]atomic.Int64, threads), calls: make([]atomic.Int32, threads)}
}

func (r *record) Run(c, lo, hi int) {
	r.calls[c].Add(1)
	r.lo[c].Store(int64(lo) + 1)
	r.hi[c].Store(int64(hi) + 1)
	for i := lo; i < hi; i++ {
		r.hits[i].Add(1)
	}
}

// check compares a run against the split worked out by hand: every item exactly once, chunk c
// the c-th contiguous range, at most min(threads, ⌈n/grain⌉) chunks, all of one size but the
// last.
func (r *record) check(n, threads, grain int) error {
	want := min(threads, (n+grain-1)/grain)
	for i := range r.hits {
		if h := r.hits[i].Load(); h != 1 {
			return fmt.Errorf("item %d ran %d times", i, h)
		}
	}
	end, size := 0, 0
	for c := range r.calls {
		if r.calls[c].Load() == 0 {
			if end != n {
				return fmt.Errorf("chunk %d not run but items [%d, %d) left", c, end, n)
			}
			continue
		}
		if k := r.calls[c].Load(); k != 1 {
			return fmt.Errorf("chunk %d ran %d times", c, k)
		}
		lo, hi := int(r.lo[c].Load()-1), int(r.hi[c].Load()-1)
		if lo != end || hi <= lo {
			return fmt.Errorf("chunk %d is [%d, %d), want it to start at %d", c, lo, hi, end)
		}
		if c >= want {
			return fmt.Errorf("chunk %d ran, want at most %d chunks", c, want)
		}
		if c == 0 {
			size = hi - lo
		}
		if hi-lo > size || hi < n && hi-lo != size {
			return fmt.Errorf("chunk %d is [%d, %d), want %d items", c, lo, hi, size)
		}
		end = hi
	}
	if end != n {
		return fmt.Errorf("chunks end at %d, want %d", end, n)
	}
	return nil
}

// TestRun: every item runs exactly once, in at most threads contiguous chunks, no more than
// ⌈n/grain⌉, for splits inline and on the pool, with the Loop reused from run to run.
func TestRun(t *testing.T) {
	var l Loop
	for _, threads := range []int{1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 5, 16, 17, 100, 1001} {
			for _, grain := range []int{0, 1, 7, 64} {
				r := newRecord(n, threads)
				l.Run(threads, n, grain, r)
				if err := r.check(n, threads, max(grain, 1)); err != nil {
					t.Errorf("threads %d, n %d, grain %d: %v", threads, n, grain, err)
				}
			}
		}
	}
}

// TestConcurrentLoops: loops of several goroutines share the pool at once (run under -race too).
func TestConcurrentLoops(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l Loop
			for i := range 50 {
				n := 100 + 37*g + i
				r := newRecord(n, 4)
				l.Run(4, n, 3, r)
				if err := r.check(n, 4, 3); err != nil {
					errs <- fmt.Errorf("goroutine %d, run %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// sum is a Body without allocations of its own: each chunk adds its items into its own slot.
type sum struct {
	x    []float64
	part []float64
}

func (s *sum) Run(c, lo, hi int) {
	for _, v := range s.x[lo:hi] {
		s.part[c] += v
	}
}

// TestRunAllocs: a steady-state run on the pool allocates nothing.
func TestRunAllocs(t *testing.T) {
	s := &sum{x: make([]float64, 4096), part: make([]float64, 4)}
	var l Loop
	l.Run(4, len(s.x), 16, s) // starts the pool's goroutines
	if a := testing.AllocsPerRun(100, func() { l.Run(4, len(s.x), 16, s) }); a != 0 {
		t.Errorf("Run: %v allocations, want 0", a)
	}
}
