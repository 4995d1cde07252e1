// Package disttest runs a test binary as an MPI job under Open MPI's mpirun, on this machine:
// tests that need mpirun skip with a reason when it is absent, and fail instead when
// AGRPO_REQUIRE_MPI=1 (as CI sets).
package disttest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Helper is the environment variable a test binary started by Run reads to know which helper
// to run as a rank; it is "" in the parent test.
const Helper = "AGRPO_DIST_HELPER"

// Mpirun is the path of mpirun, or the test is skipped (failed with AGRPO_REQUIRE_MPI=1).
func Mpirun(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		if os.Getenv("AGRPO_REQUIRE_MPI") == "1" {
			t.Fatalf("AGRPO_REQUIRE_MPI=1 but mpirun is absent (install openmpi-bin and libopenmpi-dev): %v", err)
		}
		t.Skipf("mpirun is absent (install openmpi-bin and libopenmpi-dev to run this test): %v", err)
	}
	return p
}

// Command is `mpirun -np n` running this test binary's helper (test function run, which acts
// when Helper is set to helper), on loopback, as root if need be, oversubscribing the cores.
// env is added to every rank's environment.
func Command(ctx context.Context, t testing.TB, n int, run, helper string, env ...string) *exec.Cmd {
	t.Helper()
	args := []string{"--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", strconv.Itoa(n),
		"--mca", "btl", "self,vader", "-x", Helper + "=" + helper}
	for _, e := range env {
		args = append(args, "-x", e)
	}
	args = append(args, os.Args[0], "-test.run", "^"+run+"$", "-test.count=1")
	cmd := exec.CommandContext(ctx, Mpirun(t), args...)
	cmd.Env = append(os.Environ(), Helper+"="+helper)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Run runs Command to its end within limit and returns its combined output and error.
func Run(t testing.TB, n int, limit time.Duration, run, helper string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := Command(ctx, t, n, run, helper, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mpirun -np %d %s did not end within %v:\n%s", n, helper, limit, out.String())
	}
	return out.String(), err
}
