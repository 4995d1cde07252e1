// Command demo is the project's one entry point: `go run ./demo` and its subcommands.
//
//	go run ./demo train -config configs/FILE.toml   train (and -resume RUNDIR)
//	go run ./demo eval -ckpt NAME -task NAME        accuracy and reward per step count
//	go run ./demo sample -ckpt NAME -task NAME      one unmasking, step by step
//	go run ./demo plot RUNDIR                       a run's curves into RUNDIR/curves.png
//	go run ./demo info -ckpt NAME|FILE|DIR          architecture, parameters, dtypes, memory
//	go run ./demo export -ckpt NAME -out DIR        a Hugging Face folder in LLaDA's layout
//	go run ./demo devices                           the Vulkan devices and the CPU backend
//	go run ./demo bench [-json]                     time the compute backend
//	go run ./demo serve                             the browser demo on 127.0.0.1:8080
//
// Without a subcommand it runs the story (story.go). `go run ./demo -h` prints the list; every
// subcommand takes -h.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dllmrl/agrpo/rl"
)

// command is one subcommand: its flags are parsed by run from the arguments after its name.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"train", "train from a TOML config (SFT, AGRPO or diffu-GRPO), or resume a run folder", runTrain},
		{"eval", "evaluate a checkpoint on a task's test split (or your JSONL) at several step counts", runEval},
		{"sample", "watch one unmasking, step by step, in the terminal", runSample},
		{"plot", "draw a run's reward and accuracy curves into RUNDIR/curves.png", runPlot},
		{"plan", "the memory a training config needs, part by part, against the device's", runPlan},
		{"info", "what a checkpoint is: architecture, parameters, dtypes, memory", runInfo},
		{"export", "write a checkpoint as a Hugging Face folder in LLaDA's layout", runExport},
		{"devices", "list the Vulkan devices and the CPU backend", runDevices},
		{"bench", "time a backend: matmul GFLOP/s, the CPU's FMA peak, model and sampler tokens/s", runBench},
		{"serve", "serve the browser demo (a tiny model unmasking in a page) on 127.0.0.1:8080", runServe},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// The exit codes, one rule for every command: 0 done; 2 refused before any work (a flag, a
// config, a data file, a checkpoint, a run folder or a device that is wrong: a user mistake);
// 1 failed while working; 130 interrupted (the shell's code for Ctrl-C), state saved.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// errUsage marks a user mistake already reported; run exits 2 without more output.
var errUsage = errors.New("usage")

// usageError is a user mistake still to be reported: finish prints it and exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// refused marks err (nil stays nil) as a user mistake found before any work.
func refused(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

func run(args []string, stdout, stderr io.Writer) int {
	out := &checkedWriter{w: stdout}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		usage(stderr)
		fmt.Fprintln(stderr)
		// The story's own flags, as `go run ./demo` takes them.
		return finish(stderr, "", out.check(runStory([]string{"-h"}, out, stderr)))
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return finish(stderr, "", out.check(runStory(args, out, stderr)))
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return finish(stderr, " "+c.name, out.check(c.run(args[1:], out, stderr)))
		}
	}
	fmt.Fprintf(stderr, "demo: unknown command %q (run `go run ./demo -h` for the list)\n", args[0])
	return exitUsage
}

// checkedWriter keeps the first write error on the results' stream, so that a command whose
// output was lost (a full disk, a closed pipe) does not exit 0 however it printed.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}

// check is the command's error, or else the first error writing its output.
func (c *checkedWriter) check(err error) error {
	if err == nil && c.err != nil {
		return fmt.Errorf("writing the output: %w", c.err)
	}
	return err
}

// finish maps a command's error to the exit code (see exitUsage) and reports it in one line,
// unless the command already has: a usage error from the flag package, or an interruption.
func finish(stderr io.Writer, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, rl.ErrInterrupted):
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "demo%s: %v\n", name, err)
	if u := (usageError{}); errors.As(err, &u) {
		return exitUsage
	}
	return exitFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: go run ./demo [flags]             the whole story: evaluate, fine-tune with AGRPO, evaluate again")
	fmt.Fprintln(w, "       go run ./demo <command> [flags]   (each command and the story take -h)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlags makes a flag set that reports errors as a one-line usage error (exit 2).
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./demo %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, which must hold no positional arguments, and maps a bad flag to
// errUsage (the flag package has printed why).
func parseFlags(fs *flag.FlagSet, args []string) error { return parseArgs(fs, args, 0) }

// parseArgs is parseFlags for a command that takes exactly n positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, n int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > n {
		fmt.Fprintf(fs.Output(), "demo %s: unexpected argument %q\n", fs.Name(), fs.Arg(n))
		return errUsage
	}
	if fs.NArg() < n {
		fmt.Fprintf(fs.Output(), "demo %s: missing argument (see -h)\n", fs.Name())
		return errUsage
	}
	return nil
}
