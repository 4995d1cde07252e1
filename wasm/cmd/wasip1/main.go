// Command wasip1 runs the browser demo's inference path (package wasm/infer) once and prints
// the result as JSON: every recorded state, each token's reveal step and confidence, the
// answer and its reward. It is built with GOOS=wasip1 GOARCH=wasm so that tests can run the
// very code the page runs, under wazero, and compare it with native Go; it builds and runs
// natively too.
//
//	wasip1 -ckpt FILE|- -task NAME [-problem JSON | -problem-seed N] [-seed S]
//	       [-steps N] [-block N] [-temperature T] [-remasking RULE]
//
// -ckpt - reads the checkpoint from stdin, which needs no WASI directory mount.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dllmrl/agrpo/wasm/infer"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasip1", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ckpt := fs.String("ckpt", "", "checkpoint file, or - for stdin")
	var r infer.Request
	fs.StringVar(&r.Task, "task", "", "countdown | sudoku | arithmetic")
	fs.StringVar(&r.Problem, "problem", "", `a problem as one JSONL line, e.g. {"numbers":[3,7,12],"target":33}`)
	fs.Uint64Var(&r.ProblemSeed, "problem-seed", 0, "picks the test problem when -problem is empty")
	seed := fs.Uint("seed", 0, "sampler seed")
	fs.IntVar(&r.Steps, "steps", 0, "sampling steps (0 = one per answer token)")
	fs.IntVar(&r.Block, "block", 0, "block length (0 = the whole answer)")
	fs.Float64Var(&r.Temperature, "temperature", 0, "sampling temperature (0 = greedy)")
	fs.StringVar(&r.Remasking, "remasking", "low_confidence", "low_confidence | random | entropy")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *ckpt == "" || fs.NArg() > 0 || uint64(*seed) > 1<<32-1 {
		fmt.Fprintln(stderr, "wasip1: want -ckpt FILE|- and -task, a -seed below 2^32, and no other arguments (see -h)")
		return 2
	}
	r.Seed = uint32(*seed)
	res, err := generate(*ckpt, r, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wasip1: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "wasip1: %v\n", err)
		return 1
	}
	return 0
}

func generate(ckpt string, r infer.Request, stdin io.Reader) (*infer.Result, error) {
	var raw []byte
	var err error
	name := strings.TrimSuffix(filepath.Base(ckpt), ".safetensors")
	if ckpt == "-" {
		name = "stdin"
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(ckpt)
	}
	if err != nil {
		return nil, err
	}
	m, err := infer.Load(name, raw)
	if err != nil {
		return nil, err
	}
	return infer.Generate(m, r, nil)
}
