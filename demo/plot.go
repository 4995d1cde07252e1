package main

import (
	"fmt"
	"io"

	"github.com/dllmrl/agrpo/rl"
)

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", "plot RUNDIR", stderr)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	path, note, err := rl.Plot(fs.Arg(0))
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(stderr, note)
	}
	fmt.Fprintln(stdout, path)
	return nil
}
