package dist_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dllmrl/agrpo/rl/dist"
	"github.com/dllmrl/agrpo/rl/dist/disttest"
)

func TestShare(t *testing.T) {
	for n := 0; n < 12; n++ {
		for size := 1; size <= 5; size++ {
			next := 0
			for r := range size {
				lo, hi := dist.Share(n, r, size)
				if lo != next || hi < lo || hi-lo > n/size+1 || hi-lo < n/size {
					t.Fatalf("Share(%d, %d, %d) = [%d, %d) after %d", n, r, size, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("Share(%d, ·, %d) covers %d items", n, size, next)
			}
		}
	}
}

// TestCollectives runs the binding as a job of 2 and of 3 ranks: every rank checks the sums
// and the broadcast against values it computes itself (exact in float64 and float32).
func TestCollectives(t *testing.T) {
	if os.Getenv(disttest.Helper) == "collectives" {
		c, err := dist.Open()
		if err != nil {
			t.Fatal(err)
		}
		if err := collectives(c); err != nil {
			dist.Fail(c, 1, err)
		}
		return
	}
	for _, n := range []int{2, 3} {
		out, err := disttest.Run(t, n, 2*time.Minute, "TestCollectives", "collectives")
		if err != nil {
			t.Fatalf("mpirun -np %d: %v\n%s", n, err, out)
		}
		for r := range n {
			if want := fmt.Sprintf("rank %d of %d: collectives ok", r, n); !strings.Contains(out, want) {
				t.Errorf("mpirun -np %d: no %q in\n%s", n, want, out)
			}
		}
	}
}

func collectives(c dist.Comm) error {
	r, n := c.Rank(), c.Size()
	// A float32 sum long enough to cross no chunk but hold distinct values per element.
	x32 := make([]float32, 1000)
	for i := range x32 {
		x32[i] = float32(i*(r+1)) + 0.5
	}
	if err := c.SumFloat32(x32); err != nil {
		return err
	}
	for i, v := range x32 {
		if want := float32(i*n*(n+1)/2) + 0.5*float32(n); v != want {
			return fmt.Errorf("SumFloat32[%d] = %g, want %g", i, v, want)
		}
	}
	x64 := []float64{float64(r), 1, -float64(r * r)}
	if err := c.SumFloat64(x64); err != nil {
		return err
	}
	if want := []float64{float64(n * (n - 1) / 2), float64(n), -float64((n - 1) * n * (2*n - 1) / 6)}; fmt.Sprint(x64) != fmt.Sprint(want) {
		return fmt.Errorf("SumFloat64 = %v, want %v", x64, want)
	}
	buf := []byte(fmt.Sprintf("from rank %d", r))
	if err := c.Broadcast(buf, n-1); err != nil {
		return err
	}
	if want := fmt.Sprintf("from rank %d", n-1); string(buf) != want {
		return fmt.Errorf("Broadcast from rank %d gave %q", n-1, buf)
	}
	fmt.Printf("rank %d of %d: collectives ok\n", r, n)
	return c.Close()
}

// TestAbort: a rank that fails while the others wait in a collective ends the whole job, within
// a bounded time, with a message naming the rank and the cause.
func TestAbort(t *testing.T) {
	if os.Getenv(disttest.Helper) == "abort" {
		c, err := dist.Open()
		if err != nil {
			t.Fatal(err)
		}
		if c.Rank() == 1 {
			time.Sleep(200 * time.Millisecond)
			dist.Fail(c, 3, errors.New("the gradient is not finite"))
		}
		x := []float64{1}
		c.SumFloat64(x) // rank 1 never joins: this waits until the job is aborted
		fmt.Println("rank", c.Rank(), "passed a sum it should never have finished")
		os.Exit(0)
	}
	start := time.Now()
	out, err := disttest.Run(t, 3, time.Minute, "TestAbort", "abort")
	if err == nil {
		t.Fatalf("the job succeeded:\n%s", out)
	}
	if !strings.Contains(out, "rank 1 of 3 failed: the gradient is not finite") || strings.Contains(out, "should never") {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("the job ended %v after it started: %v", time.Since(start).Round(time.Millisecond), err)
}

func TestSingle(t *testing.T) {
	if dist.Launched() {
		t.Skip("inside an MPI job")
	}
	var c dist.Comm = dist.Single{}
	x := []float32{1, 2}
	if err := c.SumFloat32(x); err != nil || x[0] != 1 || x[1] != 2 || c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("Single: %v %v", x, err)
	}
}

// BenchmarkSumFloat32 times the all-reduce of a gradient-sized vector on the ranks of a job; it
// runs only inside one, with a fixed count so that every rank makes the same calls:
//
//	go test -c -o /tmp/dist.test ./rl/dist/
//	mpirun -np 2 /tmp/dist.test -test.run '^$' -test.bench SumFloat32 -test.benchtime 20x
func BenchmarkSumFloat32(b *testing.B) {
	if !dist.Launched() {
		b.Skip("needs mpirun: see the comment")
	}
	c, err := dist.Open()
	if err != nil {
		b.Fatal(err)
	}
	for _, mb := range []int{4, 64, 400} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			x := make([]float32, mb<<20/4)
			b.SetBytes(int64(len(x) * 4))
			for b.Loop() {
				if err := c.SumFloat32(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
}
