package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/vulkan"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
)

func runDemo(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestUsageErrors: user mistakes — anything refused before the work starts — exit 2 with a
// one-line reason (checked here by a phrase of it) and no stack trace, whichever command.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, extra string) string {
		p := filepath.Join(dir, name+".toml")
		os.WriteFile(p, []byte("[run]\nname = \""+name+"\"\nout_dir = \""+dir+"\"\n[task]\nname = \"countdown\"\n"+
			"[model]\ninit = \"countdown-base\"\n[train]\nmethod = \"agrpo\"\nsteps = 2\n"+extra), 0o644)
		return p
	}
	data := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(data, []byte(`{"numbers":[3,7,12],"target":33}`+"\n"+`{"numbers":[3,7],"target":"x"}`+"\n"), 0o644)
	noInit := cfg("noinit", "")
	raw, _ := os.ReadFile(noInit)
	os.WriteFile(noInit, bytes.Replace(raw, []byte("countdown-base"), []byte("absent.safetensors"), 1), 0o644)
	kvHeads := cfg("kvheads", "")
	raw, _ = os.ReadFile(kvHeads)
	os.WriteFile(kvHeads, bytes.Replace(raw, []byte(`init = "countdown-base"`), []byte("n_heads = 4\nn_kv_heads = 3"), 1), 0o644)
	ev := []string{"eval", "-ckpt", "countdown-base", "-task", "countdown"}
	sm := []string{"sample", "-ckpt", "countdown-base", "-task", "countdown"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, "unknown command"},
		{[]string{"eval"}, "required"},
		{[]string{"plan"}, "-config is required"},
		{[]string{"plan", "-config", noInit}, "model.init: "},
		{[]string{"plan", "-config", kvHeads}, "n_kv_heads"},
		{[]string{"eval", "-ckpt", "countdown-base", "-task", "chess"}, "chess"},
		{append(ev, "-steps", "12,x"), "-steps"},
		{append(ev, "-steps", "13"), "13 steps"},
		{append(ev, "-block", "5"), "block_length = 5"},
		{append(ev, "-temperature", "NaN"), "temperature = NaN"},
		{append(ev, "-data", data), "line 2"},
		{append(ev, "-data", filepath.Join(dir, "absent.jsonl")), "no such file"},
		{[]string{"eval", "-ckpt", "nope", "-task", "countdown"}, "countdown-base"},
		{[]string{"eval", "-ckpt", "sudoku-base", "-task", "countdown"}, "trained for sudoku"},
		{[]string{"eval", "-ckpt", "/dev/zero", "-task", "countdown"}, "not a regular file"},
		{[]string{"eval", "-bogus"}, "bogus"},
		{append(sm, "-remasking", "best"), "best"},
		{append(sm, "-temperature", "Inf"), "temperature = +Inf"},
		{append(sm, "-problem", `{"numbers":[3]}`), "-problem"},
		{append(sm, "-dtype", "bf16"), `unknown dtype "bf16" (want f32 or auto)`},
		{append(ev, "-dtype", ""), `unknown dtype ""`},
		{[]string{"train"}, "-config"},
		{[]string{"train", "-config", "a", "-resume", "b"}, "exactly one"},
		{[]string{"train", "-config", "/dev/zero"}, "not a config"},
		{[]string{"train", "-config", cfg("lr", "lr = inf\n")}, "train.lr: +Inf"},
		{[]string{"train", "-config", cfg("evalsteps", "[eval]\nsteps = [100000]\n")}, "100000 steps"},
		{[]string{"train", "-config", cfg("mc", "[rl.agrpo]\nmc_samples = 0\n")}, "mc_samples = 0"},
		{[]string{"train", "-config", cfg("eps", "[rl.agrpo]\nepsilon_low = -0.1\n")}, "epsilon_low"},
		{[]string{"train", "-config", cfg("unknown", "[rl]\nwhat = 1\n")}, `unknown key "rl.what"`},
		{[]string{"train", "-config", cfg("device", ""), "-device", "vulkan:99"}, "-device vulkan:99"},
		{[]string{"train", "-config", noInit}, `no checkpoint file "absent.safetensors"`},
		{[]string{"train", "-config", kvHeads}, "n_kv_heads = 3 must be positive and divide n_heads 4"},
		{[]string{"train", "-resume", filepath.Join(dir, "absent")}, "absent/config.toml"},
		{[]string{"-out", "/proc/forbidden", "-budget", "1", "-n", "4"}, "run folder"},
		{[]string{"-steps", "17"}, "17 steps"}, // Sudoku answers have 16 tokens
		{[]string{"plot"}, "missing argument"},
		{[]string{"serve", "-addr", "foo"}, "missing port"},
		{[]string{"bench", "-time", "-1s"}, "-time"},
	} {
		code, _, stderr := runDemo(c.args...)
		if code != 2 || strings.Contains(stderr, "goroutine") || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", c.args, code, stderr, c.want)
		}
	}
	for _, name := range []string{"lr", "evalsteps", "mc", "eps", "unknown", "device", "noinit", "kvheads"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("the refused config %s left a run folder (%v)", name, err)
		}
	}
	if code, _, _ := runDemo("eval", "-h"); code != 0 {
		t.Errorf("eval -h: exit %d", code)
	}
}

// TestEvalShippedModel evaluates the shipped Countdown base on a few test problems, as JSON.
func TestEvalShippedModel(t *testing.T) {
	code, stdout, stderr := runDemo("eval", "-ckpt", "countdown-base", "-task", "countdown", "-n", "20", "-steps", "12,3", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		N       int `json:"n"`
		Results []struct {
			Steps    int     `json:"steps"`
			Accuracy float64 `json:"accuracy"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if res.N != 20 || len(res.Results) != 2 || res.Results[0].Steps != 12 {
		t.Fatalf("unexpected result %+v", res)
	}
}

// TestHFFolder: -ckpt and model.init take a Hugging Face folder in LLaDA's layout. The shipped
// Countdown base written as such a folder (F32) evaluates exactly as the shipped file does, and
// trains from model.init; a folder whose vocabulary is not the tasks' is refused with the reason.
func TestHFFolder(t *testing.T) {
	dir := t.TempDir()
	b := cpu.New()
	ck, err := rl.LoadModel("countdown-base", models.Shipped, b)
	if err != nil {
		t.Fatal(err)
	}
	hf := filepath.Join(dir, "countdown-base-hf")
	if err := model.SaveDir(hf, b, ck.Config, ck.Params, safetensors.F32, 0); err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, c := range []string{"countdown-base", hf} {
		outs = append(outs, evalResults(t, "eval", "-ckpt", c, "-task", "countdown", "-n", "16", "-steps", "12,3", "-json"))
	}
	if outs[0] != outs[1] {
		t.Errorf("the folder evaluates differently from the shipped file:\nfile   %s\nfolder %s", outs[0], outs[1])
	}
	cfg := filepath.Join(dir, "init.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "fromhf"
out_dir = "`+dir+`"
[task]
name = "countdown"
[model]
init = "`+hf+`"
[train]
steps = 1
batch_size = 4
warmup_steps = 1
[eval]
n = 2
steps = [3]
`), 0o644)
	if code, stdout, stderr := runDemo("train", "-config", cfg); code != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("train from model.init = folder: exit %d: %s %s", code, stdout, stderr)
	}
	code, _, stderr := runDemo("eval", "-ckpt", filepath.Join("..", "testdata", "hf", "llada-tiny-bf16"), "-task", "countdown")
	if code != 2 || !strings.Contains(stderr, "model vocabulary (size 384") {
		t.Errorf("eval of a folder with another vocabulary: exit %d, %q", code, stderr)
	}
}

// evalResults runs an eval command with -json and returns its "results" as JSON text.
func evalResults(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runDemo(args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	var out struct {
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v: %v in %s", args, err, stdout)
	}
	return string(out.Results)
}

// TestEvalOwnData evaluates problems from a JSONL file (TestUsageErrors has a malformed one).
func TestEvalOwnData(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, []byte(`{"numbers":[3,7,12],"target":33}`+"\n"+`{"numbers":[2,5,10],"target":20}`+"\n"), 0o644)
	if code, stdout, stderr := runDemo("eval", "-ckpt", "countdown-base", "-task", "countdown", "-data", good, "-steps", "12"); code != 0 || !strings.Contains(stdout, "accuracy") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
}

// TestSampleShowsSteps: the terminal view prints every step and the verdict.
func TestSampleShowsSteps(t *testing.T) {
	code, stdout, stderr := runDemo("sample", "-ckpt", "countdown-base", "-task", "countdown", "-seed", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"prompt", "step   1", "step  12", "answer", "reward"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// TestTrainAndResume: a tiny config trains, and an existing run must be resumed, not restarted.
func TestTrainAndResume(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "tiny"
out_dir = "`+dir+`"
[task]
name = "arithmetic"
[model]
d_model = 16
n_layers = 1
n_heads = 2
mlp_hidden_size = 16
[train]
steps = 4
batch_size = 8
warmup_steps = 1
log_every = 2
[eval]
n = 4
steps = [7]
`), 0o644)
	if code, stdout, stderr := runDemo("train", "-config", cfg); code != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("train: exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"config.toml", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "eval.json", "curves.png"} {
		if _, err := os.Stat(filepath.Join(dir, "tiny", f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	if code, _, stderr := runDemo("train", "-config", cfg); code != 2 || !strings.Contains(stderr, "-resume") {
		t.Errorf("second start: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runDemo("train", "-resume", filepath.Join(dir, "tiny")); code != 0 {
		t.Errorf("resume of a finished run: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runDemo("plot", filepath.Join(dir, "tiny")); code != 0 || !strings.Contains(stdout, "curves.png") {
		t.Errorf("plot: exit %d", code)
	}
}

// TestStory runs the default flow at a tiny budget: it must evaluate, fine-tune, evaluate again,
// write the run folder and end with the before/after JSON line.
func TestStory(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runDemo("-task", "countdown", "-budget", "1", "-n", "8", "-out", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var res storyResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the JSON table: %v\n%s", err, lines[len(lines)-1])
	}
	if res.Task != "countdown" || len(res.Results) != 2 || res.Results[0].Steps != 12 || res.Results[1].Steps != 3 || res.Results[0].N != 8 {
		t.Fatalf("table %+v", res)
	}
	for _, want := range []string{"device:", "AGRPO fine-tuning", "step 1/1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress output lacks %q", want)
		}
	}
	for _, want := range []string{"before:", "after:", "go run ./demo eval"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, f := range []string{"config.toml", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "curves.png"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
}

// TestVulkanDevice: eval and train run on the Vulkan backend with -device vulkan (lavapipe in
// CI), and a greedy evaluation there scores what it scores on the CPU.
func TestVulkanDevice(t *testing.T) {
	if _, err := vulkan.Devices(); err != nil {
		if os.Getenv("AGRPO_REQUIRE_VULKAN") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	evalArgs := []string{"eval", "-ckpt", "countdown-base", "-task", "countdown", "-n", "24", "-steps", "12,3", "-json"}
	results := map[string]string{}
	for _, dev := range []string{"cpu", "vulkan"} {
		results[dev] = evalResults(t, append(evalArgs, "-device", dev)...)
	}
	if results["cpu"] != results["vulkan"] {
		t.Errorf("greedy evaluation differs:\ncpu    %s\nvulkan %s", results["cpu"], results["vulkan"])
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.toml")
	os.WriteFile(cfg, []byte(`[run]
name = "tiny"
out_dir = "`+dir+`"
device = "vulkan"
[task]
name = "countdown"
[model]
init = "countdown-base"
[train]
method = "agrpo"
steps = 1
[rl]
prompts_per_step = 2
group_size = 4
[eval]
n = 4
steps = [6]
`), 0o644)
	code, stdout, stderr := runDemo("train", "-config", cfg)
	if code != 0 || !strings.Contains(stdout, "done") || !strings.Contains(stdout+stderr, "vulkan") {
		t.Fatalf("train on run.device = vulkan: exit %d: %s %s", code, stdout, stderr)
	}
}

// TestMain lets a test run the command in a child process (DEMO_ARGS, fields separated by
// spaces), to send it signals.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("DEMO_ARGS"); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestInterrupt: Ctrl-C during training saves the checkpoint and exits 130; a second Ctrl-C
// while the step finishes ends the process at once, by the signal.
func TestInterrupt(t *testing.T) {
	for _, twice := range []bool{false, true} {
		dir, cfg := slowRun(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "DEMO_ARGS=train -config "+cfg)
		log := signalOnLines(t, cmd, func(line string) {
			if strings.HasPrefix(line, "step 1/") || twice && strings.HasPrefix(line, "interrupt: saving") {
				cmd.Process.Signal(os.Interrupt)
			}
		})
		err := cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if twice {
			if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
				t.Errorf("second Ctrl-C: %v, want death by SIGINT\n%s", err, log.String())
			}
			continue
		}
		if ws.ExitStatus() != 130 || !strings.Contains(log.String(), "interrupted at step") {
			t.Errorf("Ctrl-C: exit %d, want 130\n%s", ws.ExitStatus(), log.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "slow", "checkpoint.safetensors")); err != nil {
			t.Errorf("no checkpoint after Ctrl-C: %v", err)
		}
	}
}

// slowRun writes the config of a long SFT run in a new folder: dir, and the config's path.
func slowRun(t *testing.T) (dir, cfg string) {
	dir = t.TempDir()
	cfg = filepath.Join(dir, "slow.toml")
	os.WriteFile(cfg, []byte("[run]\nname = \"slow\"\nout_dir = \""+dir+"\"\ndevice = \"cpu\"\n[task]\nname = \"arithmetic\"\n"+
		"[train]\nsteps = 100000\nbatch_size = 256\nlog_every = 1\n"), 0o644)
	return dir, cfg
}

// signalOnLines starts cmd, hands every line it writes on stderr to onLine (which may signal
// it) until stderr closes, and returns those lines; the caller waits for cmd.
func signalOnLines(t *testing.T, cmd *exec.Cmd, onLine func(line string)) *strings.Builder {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		onLine(sc.Text())
	}
	return &log
}

// fullWriter fails every write, as stdout redirected to /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestLostOutput: a command whose results cannot be written exits 1 and says so, also when it
// prints text rather than JSON.
func TestLostOutput(t *testing.T) {
	for _, args := range [][]string{
		{"sample", "-ckpt", "sudoku-base", "-task", "sudoku", "-seed", "3"},
		{"eval", "-ckpt", "sudoku-base", "-task", "sudoku", "-n", "4", "-steps", "4"},
	} {
		var errb bytes.Buffer
		if code := run(args, fullWriter{}, &errb); code != 1 || !strings.Contains(errb.String(), "writing the output: no space left") {
			t.Errorf("%v into a full disk: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
