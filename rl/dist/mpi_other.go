//go:build !(linux && cgo)

package dist

import "fmt"

// Library is the Open MPI library Open loads on Linux with cgo.
const Library = "libmpi.so.40"

// MPI is the job of all ranks started together; without cgo on Linux it cannot be opened.
type MPI struct{ Single }

// Open reports that MPI needs a Linux build with cgo (it loads Library with dlopen).
func Open() (*MPI, error) {
	return nil, fmt.Errorf("%w: this build has no cgo on Linux, which loading %s needs", ErrNoMPI, Library)
}
