// Package dist is the collective layer of data-parallel training: a job of Size ranks, each a
// process, that sum gradients and statistics, broadcast the starting point and abort together.
// The trainer sees only the Comm interface; Single is the one-process job, and Open joins an MPI
// job (Open MPI's libmpi.so.40, loaded at run time, so that builds and machines without MPI are
// unaffected). Collectives are blocking and must be called by every rank in the same order.
package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Comm is a job of Size ranks. Every method except Rank, Size and Abort is a collective: all
// ranks call it, in the same order, with buffers of the same length.
type Comm interface {
	Rank() int
	Size() int
	// SumFloat32 and SumFloat64 replace x on every rank by its elementwise sum over the ranks.
	SumFloat32(x []float32) error
	SumFloat64(x []float64) error
	// Broadcast copies root's buf into every other rank's buf (of the same length).
	Broadcast(buf []byte, root int) error
	// Abort ends every rank of the job with exit status code, after printing msg to stderr; it
	// does not return. It is how a rank that fails stops the others waiting in a collective.
	Abort(code int, msg string)
	// Close leaves the job (MPI_Finalize); the Comm is unusable afterwards.
	Close() error
}

// Single is the job of one process: sums and broadcasts leave their buffers as they are.
type Single struct{}

// Rank is 0.
func (Single) Rank() int { return 0 }

// Size is 1.
func (Single) Size() int { return 1 }

// SumFloat32 does nothing: the sum over one rank is x.
func (Single) SumFloat32([]float32) error { return nil }

// SumFloat64 does nothing: the sum over one rank is x.
func (Single) SumFloat64([]float64) error { return nil }

// Broadcast does nothing: the only rank is root.
func (Single) Broadcast([]byte, int) error { return nil }

// Abort prints msg and exits with code.
func (Single) Abort(code int, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(code)
}

// Close does nothing.
func (Single) Close() error { return nil }

// ErrNoMPI is wrapped by Open's error when the MPI library cannot be loaded.
var ErrNoMPI = errors.New("MPI unavailable")

// Launched reports whether this process was started by Open MPI's mpirun (or a scheduler that
// sets its environment, as Slurm's srun --mpi=pmix does), and so should join the job with Open.
func Launched() bool {
	_, ok := os.LookupEnv("OMPI_COMM_WORLD_SIZE")
	return ok
}

// LocalRank is this process's rank among those of the job on its node (Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK), or 0 outside a job: the index of the GPU it should use.
func LocalRank() int {
	n, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_LOCAL_RANK"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Share is rank's contiguous share [lo, hi) of n items split over size ranks: the first n mod
// size ranks take one more, so shares differ by at most one and cover 0..n in rank order.
func Share(n, rank, size int) (lo, hi int) {
	q, r := n/size, n%size
	lo = rank*q + min(rank, r)
	hi = lo + q
	if rank < r {
		hi++
	}
	return lo, hi
}

// Fail ends the job because this rank failed: it names the rank and the cause on stderr and
// aborts every rank with status code, so that nobody waits in a collective for it. In a
// one-process job it prints the message and exits.
func Fail(c Comm, code int, err error) {
	c.Abort(code, fmt.Sprintf("rank %d of %d failed: %v", c.Rank(), c.Size(), err))
}

// KillGrace is how long Open MPI's mpirun lets the ranks run after it forwards Ctrl-C to them
// as SIGTERM, before it kills them (its MCA parameter odls_base_sigkill_timeout, default 1 s,
// which mpirun hands to the ranks in their environment). A rank needs a step's time to reach
// a checkpoint, so a Ctrl-C that should save must have a grace longer than a step.
func KillGrace() time.Duration {
	s, err := strconv.Atoi(os.Getenv("OMPI_MCA_odls_base_sigkill_timeout"))
	if err != nil || s < 0 {
		return time.Second
	}
	return time.Duration(s) * time.Second
}
