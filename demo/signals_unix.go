//go:build unix

package main

import (
	"os"
	"syscall"
)

// jobStopSignals stop a rank of an MPI job at the end of a step, as Ctrl-C stops one process:
// mpirun passes SIGUSR1 on to every rank.
var jobStopSignals = []os.Signal{syscall.SIGUSR1}
