//go:build !unix

package main

import "os"

// jobStopSignals: no signal but Ctrl-C's stops a job where there is no SIGUSR1 (Windows).
var jobStopSignals []os.Signal
