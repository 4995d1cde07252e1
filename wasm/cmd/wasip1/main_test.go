package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
	"github.com/dllmrl/agrpo/wasm/infer"
	"github.com/dllmrl/agrpo/wasm/web"
)

// wasip1 holds this command built for GOOS=wasip1, once per test binary. It is built inside
// a test (not TestMain) so that the sources it reads are recorded and go test does not reuse
// a cached pass after they change; see web.ReadSources.
var wasip1 struct {
	once sync.Once
	bin  []byte
	err  error
}

func wasmBinary(t *testing.T) []byte {
	t.Helper()
	wasip1.once.Do(func() {
		ctx := context.Background()
		if wasip1.err = web.ReadSources(ctx, "wasip1", "wasm", web.WASIPackage); wasip1.err != nil {
			return
		}
		out := filepath.Join(t.TempDir(), "wasip1.wasm")
		if wasip1.err = web.Build(ctx, "wasip1", web.WASIPackage, out); wasip1.err == nil {
			wasip1.bin, wasip1.err = os.ReadFile(out)
		}
	})
	if wasip1.err != nil {
		t.Fatal(wasip1.err)
	}
	return wasip1.bin
}

// runner runs the WASI command in-process with wazero.
type runner struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

// compiled is the runner shared by the tests: compiling the module takes seconds, running
// it milliseconds. The runtime lives as long as the test binary.
var compiled struct {
	once sync.Once
	r    *runner
	err  error
}

func newRunner(t *testing.T) *runner {
	bin := wasmBinary(t)
	compiled.once.Do(func() {
		ctx := context.Background()
		rt := wazero.NewRuntime(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		mod, err := rt.CompileModule(ctx, bin)
		compiled.r, compiled.err = &runner{rt, mod}, err
	})
	if compiled.err != nil {
		t.Fatal(compiled.err)
	}
	return compiled.r
}

// run executes the command with args and stdin; it returns stdout, or an error holding
// stderr when the exit code is not 0.
func (r *runner) run(stdin []byte, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	// WithName("") lets the compiled module be instantiated again and again.
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"wasip1"}, args...)...).
		WithStdin(bytes.NewReader(stdin)).WithStdout(&stdout).WithStderr(&stderr)
	_, err := r.rt.InstantiateModule(context.Background(), r.mod, cfg)
	// A Go command's main returning ends the module with exit code 0.
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// testCase is one generation, described once for both builds.
type testCase struct {
	ckpt, task  string
	problem     string // typed problem; "" picks the test problem by problemSeed
	problemSeed uint64
	steps       int // 0: one per answer token
	block       int // 0: the whole answer
	temperature float64
	remasking   core.Remasking
	seed        uint32
}

var cases = []testCase{
	{ckpt: "sudoku-base", task: "sudoku", problemSeed: 3},
	{ckpt: "countdown-base", task: "countdown", problemSeed: 1, block: 4, steps: 6},
	// The first three blocks end the answer and the last is filled with EOS, unsampled.
	{ckpt: "countdown-base", task: "countdown", problemSeed: 0, block: 3, steps: 12},
	{ckpt: "sudoku-base", task: "sudoku", problemSeed: 8, steps: 8, temperature: 0.7, remasking: core.RandomOrder, seed: 7},
	{ckpt: "countdown-base", task: "countdown", problem: `{"numbers":[3,7,12],"target":33}`, steps: 6, temperature: 1,
		remasking: core.RandomOrder, seed: 11},
	{ckpt: "sudoku-base", task: "sudoku", problem: `{"puzzle":".4....1....22.4."}`, block: 8, steps: 8, temperature: 0.5,
		remasking: core.LowEntropy, seed: 5},
}

func (c testCase) args() []string {
	a := []string{"-ckpt", "-", "-task", c.task, "-problem-seed", fmt.Sprint(c.problemSeed), "-steps", fmt.Sprint(c.steps),
		"-block", fmt.Sprint(c.block), "-temperature", fmt.Sprint(c.temperature), "-remasking", c.remasking.String(),
		"-seed", fmt.Sprint(c.seed)}
	if c.problem != "" {
		a = append(a, "-problem", c.problem)
	}
	return a
}

// native generates c with sampler.Generate directly, without package infer, so the glue is
// checked as well as the WebAssembly build.
func native(t *testing.T, c testCase) (task.Task, task.Problem, *sampler.Trajectories) {
	t.Helper()
	tk, err := task.ByName(c.task)
	if err != nil {
		t.Fatal(err)
	}
	var p task.Problem
	if c.problem != "" {
		ps, err := tk.ParseJSONL(strings.NewReader(c.problem))
		if err != nil {
			t.Fatal(err)
		}
		p = ps[0]
	} else {
		test := tk.Test()
		p = test[rand.New(rand.NewPCG(c.problemSeed, 0)).IntN(len(test))]
	}
	raw, _ := models.Shipped.Bytes(c.ckpt)
	b := cpu.New()
	ck, err := model.Decode(c.ckpt, raw, b)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sampler.Config{GenLength: tk.AnswerLen(), BlockLength: c.block, Steps: c.steps,
		Temperature: float32(c.temperature), Remasking: c.remasking, Seed: c.seed}
	if cfg.BlockLength == 0 {
		cfg.BlockLength = tk.AnswerLen()
	}
	if cfg.Steps == 0 {
		cfg.Steps = tk.AnswerLen()
	}
	ids, mask, err := task.EncodePrompt(tk, p)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sampler.Generate(model.New(b, ck.Config, ck.Params), []sampler.Prompt{{Tokens: ids, Mask: mask}}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk, p, tr
}

// TestWASIMatchesNative runs the inference path built for wasip1 under wazero and checks
// that it reveals the same tokens at the same steps as native Go, greedy and sampled, with
// every remasking rule, and that its recorded states, confidences and reward agree.
func TestWASIMatchesNative(t *testing.T) {
	r := newRunner(t)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/T=%g/%v/seed=%d", c.task, c.temperature, c.remasking, c.seed), func(t *testing.T) {
			tk, p, want := native(t, c)
			raw, _ := models.Shipped.Bytes(c.ckpt)
			out, err := r.run(raw, c.args()...)
			if err != nil {
				t.Fatal(err)
			}
			var got infer.Result
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			if got.Problem.Prompt != p.Prompt {
				t.Fatalf("prompt %q, native %q", got.Problem.Prompt, p.Prompt)
			}
			if fmt.Sprint(got.Tokens) != fmt.Sprint(want.Tokens) || fmt.Sprint(got.RevealStep) != fmt.Sprint(want.RevealStep) {
				t.Fatalf("wasip1 revealed\n  tokens %v at steps %v\nnative\n  tokens %v at steps %v",
					got.Tokens, got.RevealStep, want.Tokens, want.RevealStep)
			}
			if got.StepsRun != want.StepsRun {
				t.Errorf("wasip1 ran %d steps, native %d", got.StepsRun, want.StepsRun)
			}
			for j, lp := range want.LogP {
				// The page's build runs the portable kernels, native Go the assembly ones:
				// sums differ in the last bits, the tokens must not.
				if w := math.Exp(float64(lp)); math.Abs(got.Confidence[j]-w) > 1e-4*w+1e-6 {
					t.Errorf("confidence of token %d: wasip1 %g, native %g", j, got.Confidence[j], w)
				}
			}
			checkStates(t, got, want.RevealStep)
			text := task.Answer(want.Tokens)
			rw := tk.Reward(p, text)
			if got.Answer != text || got.Reward != rw.Total || got.Correct != rw.Correct {
				t.Errorf("wasip1 answer %q, reward %g, correct %v; native %q, %g, %v",
					got.Answer, got.Reward, got.Correct, text, rw.Total, rw.Correct)
			}
			t.Logf("%s %q → %q, reward %.2f", c.ckpt, p.Prompt, got.Answer, got.Reward)
		})
	}
}

// checkStates checks the recorded states against the reveal steps: state k shows exactly the
// tokens revealed at steps before it, and marks as revealed the ones revealed by its step.
func checkStates(t *testing.T, res infer.Result, reveal []int32) {
	t.Helper()
	if len(res.States) < 2 || res.States[0].Step != -1 {
		t.Fatalf("want a start state and one per step, got %d states", len(res.States))
	}
	if last := res.States[len(res.States)-1]; fmt.Sprint(last.Tokens) != fmt.Sprint(res.Tokens) {
		t.Fatalf("the last state (after step %d) is %v, the completion %v", last.Step, last.Tokens, res.Tokens)
	}
	for _, s := range res.States {
		var revealed []int
		for j, id := range s.Tokens {
			shown := int(reveal[j]) <= s.Step
			if shown != (id != task.Mask) || shown && id != res.Tokens[j] {
				t.Fatalf("state after step %d: token %d is %d, revealed at step %d as %d", s.Step, j, id, reveal[j], res.Tokens[j])
			}
			if int(reveal[j]) == s.Step {
				revealed = append(revealed, j)
			}
		}
		if fmt.Sprint(revealed) != fmt.Sprint(s.Revealed) {
			t.Fatalf("state after step %d marks %v revealed, want %v", s.Step, s.Revealed, revealed)
		}
	}
}

// TestWASIErrors checks that a bad request ends the command with its reason, not a crash.
func TestWASIErrors(t *testing.T) {
	r := newRunner(t)
	raw, _ := models.Shipped.Bytes("sudoku-base")
	for _, c := range []struct {
		stdin []byte
		args  []string
		want  string
	}{
		{raw, []string{"-ckpt", "-", "-task", "sudoku", "-problem", `{"puzzle":"12"}`}, "puzzle"},
		{raw, []string{"-ckpt", "-", "-task", "chess"}, "unknown task"},
		{raw, []string{"-ckpt", "-", "-task", "sudoku", "-block", "5"}, "block_length = 5"},
		{raw[:1000], []string{"-ckpt", "-", "-task", "sudoku"}, "checkpoint stdin"},
	} {
		_, err := r.run(c.stdin, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
