package web

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
	"github.com/dllmrl/agrpo/wasm/infer"
)

var updateDocs = flag.Bool("update-docs", false, "also save the first screen as docs/browser-demo.png (desktop) and docs/browser-demo-phone.png")

// chromium is Debian's package's browser; its location is what playwright-core is given.
const chromium = "/usr/bin/chromium"

// repoRoot is the module root seen from this package's folder, where go test runs.
const repoRoot = "../.."

// browserCase is one run the browser makes, in the form testdata/browser.mjs reads.
type browserCase struct {
	Name        string  `json:"name"`
	Task        string  `json:"task"`
	Model       string  `json:"model"`
	ProblemSeed *uint64 `json:"problemSeed,omitempty"`
	Puzzle      string  `json:"puzzle,omitempty"`
	Numbers     string  `json:"numbers,omitempty"`
	Target      string  `json:"target,omitempty"`
	Steps       int     `json:"steps"`
	Block       int     `json:"block"`
	Temperature float64 `json:"temperature"`
	Remasking   string  `json:"remasking"`
	Seed        uint32  `json:"seed"`
	Expect      struct {
		States  []string `json:"states"` // the board after each step, as task.Decode draws it
		Answer  string   `json:"answer"`
		Reward  float64  `json:"reward"`
		Correct bool     `json:"correct"`
	} `json:"expect"`
}

// request is the case as infer sees it: the typed problem turned into its JSONL line the way
// app.js does.
func (c browserCase) request() infer.Request {
	r := infer.Request{Task: c.Task, Steps: c.Steps, Block: c.Block, Temperature: c.Temperature, Remasking: c.Remasking, Seed: c.Seed}
	switch {
	case c.ProblemSeed != nil:
		r.ProblemSeed = *c.ProblemSeed
	case c.Task == "sudoku":
		r.Problem = fmt.Sprintf(`{"puzzle":%q}`, c.Puzzle)
	default:
		r.Problem = fmt.Sprintf(`{"numbers":[%s],"target":%s}`, strings.Join(strings.Fields(c.Numbers), ","), c.Target)
	}
	return r
}

// expect fills in the native result of the case.
func (c *browserCase) expect(t *testing.T) {
	raw, ok := models.Shipped.Bytes(c.Model)
	if !ok {
		t.Fatalf("no shipped model %s", c.Model)
	}
	m, err := infer.Load(c.Model, raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := infer.Generate(m, c.request(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.States {
		c.Expect.States = append(c.Expect.States, task.Decode(s.Tokens))
	}
	c.Expect.Answer, c.Expect.Reward, c.Expect.Correct = res.Answer, res.Reward, res.Correct
}

// TestBrowser runs the demo end to end in headless Chromium: `demo serve`, the page as a
// visitor first meets it (the comparison of accuracy.json's showcase, each checkpoint's
// accuracy, the layout on a phone, accessible names), the form's messages, cancelling,
// failed downloads, and Sudoku and Countdown runs checked state by state against native Go
// (testdata/browser.mjs says what each check is). It needs Debian's
// chromium, node and `npm install` (playwright-core); without them it skips, unless
// AGRPO_REQUIRE_BROWSER=1, which makes their absence a failure (for CI).
func TestBrowser(t *testing.T) {
	missing := ""
	if _, err := os.Stat(chromium); err != nil {
		missing = chromium + " (apt-get install chromium)"
	} else if _, err := exec.LookPath("node"); err != nil {
		missing = "node (apt-get install nodejs)"
	} else if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = "node_modules/playwright-core (npm install)"
	}
	switch {
	case missing != "" && os.Getenv("AGRPO_REQUIRE_BROWSER") == "1":
		t.Fatalf("AGRPO_REQUIRE_BROWSER=1 but %s is missing", missing)
	case missing != "":
		t.Skipf("the browser test needs %s; AGRPO_REQUIRE_BROWSER=1 makes this a failure", missing)
	case testing.Short():
		t.Skip("the browser test takes a while; not in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The server is built and the script run outside this process: read what they are made
	// of, so that go test reruns this test when any of it changes (see ReadSources).
	if err := ReadSources(ctx, "js", "wasm", JSPackage); err != nil {
		t.Fatal(err)
	}
	if err := ReadSources(ctx, runtime.GOOS, runtime.GOARCH, "github.com/dllmrl/agrpo/demo"); err != nil {
		t.Fatal(err)
	}
	out := t.ArtifactDir()
	url := startServer(ctx, t, out)
	logSizes(t, url)

	seeds := []uint64{3, 0}
	cases := []browserCase{
		// Steps and block 0 mean one step per answer position, one block: the page shows 16.
		{Name: "sudoku", Task: "sudoku", Model: "sudoku-base", ProblemSeed: &seeds[0], Steps: 0, Block: 0,
			Remasking: "low_confidence"},
		{Name: "countdown", Task: "countdown", Model: "countdown-base", Numbers: "3 7 12", Target: "33", Steps: 6, Block: 4,
			Temperature: 0.8, Remasking: "random", Seed: 11},
		// The answer ends within three blocks, so the last state is the EOS fill.
		{Name: "countdown-fill", Task: "countdown", Model: "countdown-base", ProblemSeed: &seeds[1], Steps: 12, Block: 3,
			Remasking: "low_confidence"},
		// The checkpoint is loaded already: this one times the first token alone.
		// A temperature the old step="0.1" constraint refused to submit.
		{Name: "sudoku-typed", Task: "sudoku", Model: "sudoku-base", Puzzle: ".4....1....22.4.", Steps: 8, Block: 8,
			Temperature: 0.25, Remasking: "entropy", Seed: 5},
	}
	for i := range cases {
		cases[i].expect(t)
	}
	docShots := map[string]string{}
	if *updateDocs {
		for name, file := range map[string]string{"desktop": "browser-demo.png", "phone": "browser-demo-phone.png"} {
			docShots[name], _ = filepath.Abs(filepath.Join(repoRoot, "docs", file))
		}
	}
	cfg, err := json.Marshal(map[string]any{"url": url, "chromium": chromium, "outDir": out, "cases": cases,
		"docShots": docShots, "firstScreen": firstScreen(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(out, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile("testdata/browser.mjs"); err != nil { // read for go test's cache, as above
		t.Fatal(err)
	}
	node := exec.CommandContext(ctx, "node", "testdata/browser.mjs", cfgPath)
	msg, err := node.CombinedOutput()
	if err != nil {
		t.Fatalf("node testdata/browser.mjs: %v\n%s", err, msg)
	}
	type timing struct {
		Name             string   `json:"name"`
		FirstTokenMs     float64  `json:"firstTokenMs"`
		TotalMs          float64  `json:"totalMs"`
		CheckpointLoadMs *float64 `json:"checkpointLoadMs"`
	}
	var res struct {
		LaunchMs    float64  `json:"launchMs"`
		WasmReadyMs float64  `json:"wasmReadyMs"`
		FirstScreen timing   `json:"firstScreen"`
		Cases       []timing `json:"cases"`
	}
	if err := json.Unmarshal(msg[strings.LastIndex(strings.TrimSpace(string(msg)), "\n")+1:], &res); err != nil {
		t.Fatalf("the script's last line is not its result: %v\n%s", err, msg)
	}
	t.Logf("chromium launch %.0f ms; WebAssembly ready %.0f ms after navigation", res.LaunchMs, res.WasmReadyMs)
	for _, c := range append([]timing{res.FirstScreen}, res.Cases...) {
		load := "checkpoint already loaded"
		if c.CheckpointLoadMs != nil {
			load = fmt.Sprintf("%.0f ms of it fetching and decoding the checkpoint", *c.CheckpointLoadMs)
		}
		t.Logf("%s: first revealed token %.0f ms after Run (%s); all in %.0f ms", c.Name, c.FirstTokenMs, load, c.TotalMs)
	}
	t.Logf("screenshots in %s", out)
}

// servingAt finds the URL in the line `demo serve` prints once it listens.
var servingAt = regexp.MustCompile(`at (http://\S+/) `)

// startServer builds the demo command, starts `demo serve` on a free port and returns its
// URL. When the test ends it interrupts the server, as Ctrl-C would, and checks that it
// stops cleanly.
func startServer(ctx context.Context, t *testing.T, dir string) string {
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./demo")
	build.Dir = repoRoot
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./demo: %v\n%s", err, msg)
	}
	srv := exec.Command(bin, "serve", "-addr", "127.0.0.1:0")
	srv.Dir = repoRoot // serve builds the WebAssembly from the module's source
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	urls := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if m := servingAt.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		<-drained
		err := srv.Wait()
		mu.Lock()
		defer mu.Unlock()
		if err != nil || len(lines) == 0 || lines[len(lines)-1] != "stopped" {
			t.Errorf("demo serve after an interrupt: %v, output %q, stderr %q", err, lines, stderr.String())
		}
		os.WriteFile(filepath.Join(dir, "serve.log"), []byte(strings.Join(lines, "\n")+"\n"+stderr.String()), 0o644)
	})
	select {
	case url := <-urls:
		return url
	case <-drained:
		t.Fatalf("demo serve exited: %s", stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatal("demo serve printed no URL within 3 minutes")
	}
	return ""
}

// logSizes fetches the WebAssembly and a checkpoint as the browser does, compressed, and logs
// the sizes on the wire.
func logSizes(t *testing.T, url string) {
	for _, path := range []string{"main.wasm", "models/sudoku-base.safetensors"} {
		var sizes [2]int
		for i, enc := range []string{"identity", "gzip"} {
			req, _ := http.NewRequest("GET", url+path, nil) // the URL parsed already when the server printed it
			// Setting the header by hand stops the client from decompressing transparently.
			req.Header.Set("Accept-Encoding", enc)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Content-Encoding"); (got == "gzip") != (enc == "gzip") {
				t.Errorf("%s with Accept-Encoding %s came back with Content-Encoding %q", path, enc, got)
			}
			sizes[i] = len(body)
		}
		t.Logf("%s: %d bytes, %d gzip-compressed (%.0f%%)", path, sizes[0], sizes[1], 100*float64(sizes[1])/float64(sizes[0]))
	}
}

// firstScreen is what the page must show before anyone touches it, in the form
// testdata/browser.mjs reads: per checkpoint of the showcase task, the accuracies from
// accuracy.json as the page writes them ("63.8 % … at 16 steps") and the native result of the
// showcase problem at the default settings.
func firstScreen(t *testing.T) map[string]any {
	raw, err := os.ReadFile("accuracy.json")
	if err != nil {
		t.Fatal(err)
	}
	var acc accuracyFile
	if err := json.Unmarshal(raw, &acc); err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Name     string   `json:"name"`
		Accuracy []string `json:"accuracy"`
		Answer   string   `json:"answer"`
		Correct  bool     `json:"correct"`
	}
	var panels []panel
	for _, m := range acc.Models {
		if m.Task != acc.Showcase.Task {
			continue
		}
		p := panel{Name: m.Name}
		for _, s := range m.Solved {
			p.Accuracy = append(p.Accuracy, fmt.Sprintf("%.1f %%", 100*float64(s.Solved)/float64(acc.N)), fmt.Sprintf("at %d steps", s.Steps))
		}
		raw, _ := models.Shipped.Bytes(m.Name) // accuracy.json lists the shipped models (TestAccuracy)
		im, err := infer.Load(m.Name, raw)
		if err != nil {
			t.Fatal(err)
		}
		res, err := infer.Generate(im, infer.Request{Task: m.Task, ProblemSeed: acc.Showcase.ProblemSeed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Answer, p.Correct = res.Answer, res.Correct
		panels = append(panels, p)
	}
	// The base first, then the others by name, as the page orders them.
	if i := slices.IndexFunc(panels, func(p panel) bool { return strings.HasSuffix(p.Name, "-base") }); i > 0 {
		base := panels[i]
		panels = slices.Insert(slices.Delete(panels, i, i+1), 0, base)
	}
	return map[string]any{"task": acc.Showcase.Task, "problemSeed": acc.Showcase.ProblemSeed, "panels": panels}
}
