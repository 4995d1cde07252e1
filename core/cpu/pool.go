package cpu

// runner is one op's parallel loop: the op's arguments as a struct whose run handles items
// [lo, hi), which form chunk w of the split (0 ≤ w < the number of chunks ≤ the backend's
// thread count), so it may keep per-chunk scratch or partial results indexed by w.
type runner interface {
	run(w, lo, hi int)
}

// runnerPtr is a runner whose run method has a pointer receiver of type *T.
type runnerPtr[T any] interface {
	*T
	runner
}

// parallel runs body over [0, n) in chunks on the shared pool (par.Loop.Run), at most one
// chunk per thread and no more than ⌈n/grain⌉; a single chunk runs inline. The
// body is passed by value and copied into a slot the backend keeps for its type, where the
// pool's goroutines read it: a closure or a pointer to the op's own variables would escape to
// the heap, one allocation per call. The slot is cleared afterwards, so it holds no tensor.
func parallel[T any, P runnerPtr[T]](b *Backend, n, grain int, body T) {
	s := bodySlot[T, P](b)
	s.body = body
	b.loop.Run(b.threads, n, grain, s)
	var zero T
	s.body = zero
}

// slot holds a backend's body of type T while the pool runs it.
type slot[T any, P runnerPtr[T]] struct{ body T }

// Run makes a slot a par.Body.
func (s *slot[T, P]) Run(w, lo, hi int) { P(&s.body).run(w, lo, hi) }

// bodySlot returns the backend's slot for bodies of type T, made on the type's first use.
func bodySlot[T any, P runnerPtr[T]](b *Backend) *slot[T, P] {
	for _, s := range b.slots {
		if s, ok := s.(*slot[T, P]); ok {
			return s
		}
	}
	s := new(slot[T, P])
	b.slots = append(b.slots, s)
	return s
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
