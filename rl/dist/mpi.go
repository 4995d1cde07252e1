//go:build linux && cgo

package dist

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// Open MPI's handles are the addresses of its predefined objects (mpi.h's
// OMPI_PREDEFINED_GLOBAL), so dlsym of the object's name yields the handle itself, and no
// header is needed to build. The functions are those of the MPI standard.
typedef int (*init_thread_fn)(int*, char***, int, int*);
typedef int (*comm_int_fn)(void*, int*);
typedef int (*allreduce_fn)(const void*, void*, int, void*, void*, void*);
typedef int (*bcast_fn)(void*, int, void*, int, void*);
typedef int (*abort_fn)(void*, int);
typedef int (*finalize_fn)(void);
typedef int (*error_string_fn)(int, char*, int*);

typedef struct {
	init_thread_fn init_thread;
	comm_int_fn comm_rank, comm_size;
	allreduce_fn allreduce;
	bcast_fn bcast;
	abort_fn abort_;
	finalize_fn finalize;
	error_string_fn error_string;
	void *world, *f32, *f64, *byte_, *sum;
} agrpo_mpi;

static agrpo_mpi M;

// agrpo_mpi_load opens lib (RTLD_GLOBAL: Open MPI's plugins resolve symbols of libmpi) and
// looks up everything above; on failure it copies the reason into err.
static int agrpo_mpi_load(const char* lib, char* err, int errLen) {
	void* h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	const char* names[] = {"MPI_Init_thread", "MPI_Comm_rank", "MPI_Comm_size", "MPI_Allreduce", "MPI_Bcast",
		"MPI_Abort", "MPI_Finalize", "MPI_Error_string", "ompi_mpi_comm_world", "ompi_mpi_float",
		"ompi_mpi_double", "ompi_mpi_byte", "ompi_mpi_op_sum"};
	void* syms[13];
	const char* e = 0;
	if (!h) e = dlerror();
	for (int i = 0; h && i < 13; i++) {
		syms[i] = dlsym(h, names[i]);
		if (!syms[i]) { e = names[i]; break; }
	}
	if (e) {
		int i = 0;
		for (; e[i] && i < errLen - 1; i++) err[i] = e[i];
		err[i] = 0;
		return 0;
	}
	M.init_thread = (init_thread_fn)syms[0];
	M.comm_rank = (comm_int_fn)syms[1];
	M.comm_size = (comm_int_fn)syms[2];
	M.allreduce = (allreduce_fn)syms[3];
	M.bcast = (bcast_fn)syms[4];
	M.abort_ = (abort_fn)syms[5];
	M.finalize = (finalize_fn)syms[6];
	M.error_string = (error_string_fn)syms[7];
	M.world = syms[8]; M.f32 = syms[9]; M.f64 = syms[10]; M.byte_ = syms[11]; M.sum = syms[12];
	return 1;
}

static int agrpo_mpi_init(int* provided) { return M.init_thread(0, 0, 2, provided); } // MPI_THREAD_SERIALIZED
static int agrpo_mpi_rank(int* r) { return M.comm_rank(M.world, r); }
static int agrpo_mpi_size(int* s) { return M.comm_size(M.world, s); }
// MPI_IN_PLACE is ((void*)1) in Open MPI's mpi.h.
static int agrpo_mpi_sum(void* x, int n, int f64) { return M.allreduce((void*)1, x, n, f64 ? M.f64 : M.f32, M.sum, M.world); }
static int agrpo_mpi_bcast(void* x, int n, int root) { return M.bcast(x, n, M.byte_, root, M.world); }
static int agrpo_mpi_abort(int code) { return M.abort_(M.world, code); }
static int agrpo_mpi_finalize(void) { return M.finalize(); }
static void agrpo_mpi_error(int code, char* s, int n) {
	int len = 0;
	if (n < 256 || M.error_string(code, s, &len) != 0) s[0] = 0; // MPI_MAX_ERROR_STRING is 256
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// Library is the Open MPI library Open loads: the soname of Debian's libopenmpi3 and of Open MPI
// 4 and 5 builds. The handles are looked up as Open MPI defines them, so another MPI (MPICH,
// with integer handles) is not supported.
const Library = "libmpi.so.40"

// chunk bounds the count of one MPI call, whose count is a C int.
const chunk = 1 << 28

var (
	openOnce sync.Once
	openErr  error
	world    *MPI
)

// MPI is the job of all ranks started together (MPI_COMM_WORLD).
type MPI struct {
	mu         sync.Mutex // MPI_THREAD_SERIALIZED: one call at a time
	rank, size int
}

// Open loads the MPI library, initialises MPI and returns the world communicator. It may be
// called once per process; later calls return the same Comm or error.
func Open() (*MPI, error) {
	openOnce.Do(func() {
		lib := C.CString(Library)
		defer C.free(unsafe.Pointer(lib))
		var buf [512]C.char
		if C.agrpo_mpi_load(lib, &buf[0], C.int(len(buf))) == 0 {
			openErr = fmt.Errorf("%w: loading %s (install Open MPI, e.g. Debian's openmpi-bin): %s", ErrNoMPI, Library, C.GoString(&buf[0]))
			return
		}
		var provided C.int
		if err := check(C.agrpo_mpi_init(&provided), "MPI_Init_thread"); err != nil {
			openErr = err
			return
		}
		if provided < 2 {
			openErr = fmt.Errorf("dist: MPI_Init_thread: this MPI provides thread level %d, serialized calls (2) are needed", provided)
			return
		}
		var r, s C.int
		if err := check(C.agrpo_mpi_rank(&r), "MPI_Comm_rank"); err != nil {
			openErr = err
			return
		}
		if err := check(C.agrpo_mpi_size(&s), "MPI_Comm_size"); err != nil {
			openErr = err
			return
		}
		world = &MPI{rank: int(r), size: int(s)}
	})
	return world, openErr
}

// check turns an MPI return code into an error naming the call.
func check(rc C.int, what string) error {
	if rc == 0 {
		return nil
	}
	var buf [256]C.char
	C.agrpo_mpi_error(rc, &buf[0], C.int(len(buf)))
	return fmt.Errorf("dist: %s: error %d: %s", what, int(rc), C.GoString(&buf[0]))
}

// Rank is this process's rank in the job.
func (m *MPI) Rank() int { return m.rank }

// Size is the number of ranks.
func (m *MPI) Size() int { return m.size }

// SumFloat32 all-reduces x in place (MPI_Allreduce, MPI_SUM over MPI_FLOAT).
func (m *MPI) SumFloat32(x []float32) error {
	return m.sum(unsafe.Pointer(unsafe.SliceData(x)), len(x), 4, 0)
}

// SumFloat64 all-reduces x in place (MPI_Allreduce, MPI_SUM over MPI_DOUBLE).
func (m *MPI) SumFloat64(x []float64) error {
	return m.sum(unsafe.Pointer(unsafe.SliceData(x)), len(x), 8, 1)
}

func (m *MPI) sum(p unsafe.Pointer, n, size int, f64 C.int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for lo := 0; lo < n; lo += chunk {
		k := min(chunk, n-lo)
		if err := check(C.agrpo_mpi_sum(unsafe.Add(p, lo*size), C.int(k), f64), "MPI_Allreduce"); err != nil {
			return err
		}
	}
	return nil
}

// Broadcast copies root's buf to every rank (MPI_Bcast of bytes).
func (m *MPI) Broadcast(buf []byte, root int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := unsafe.Pointer(unsafe.SliceData(buf))
	for lo := 0; lo < len(buf); lo += chunk {
		k := min(chunk, len(buf)-lo)
		if err := check(C.agrpo_mpi_bcast(unsafe.Add(p, lo), C.int(k), C.int(root)), "MPI_Bcast"); err != nil {
			return err
		}
	}
	return nil
}

// Abort prints msg and ends every rank of the job (MPI_Abort on the world) with status code.
// It does not take the call lock: another goroutine may be blocked in a collective.
func (m *MPI) Abort(code int, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	C.agrpo_mpi_abort(C.int(code))
	os.Exit(code) // MPI_Abort does not return; this is for an MPI that does
}

// Close finalises MPI (MPI_Finalize): a collective, after which no MPI call may be made.
func (m *MPI) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return check(C.agrpo_mpi_finalize(), "MPI_Finalize")
}
