// Package web is the browser demo's page — its HTML, CSS and JavaScript, embedded — and the
// helpers that build its WebAssembly from source: `demo serve` serves both, and the tests
// build the same WebAssembly to run it under wazero and in Chromium.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Assets are the page's static files: index.html, style.css, app.js, worker.js, and
// accuracy.json, each shipped checkpoint's measured test accuracy (TestAccuracy generates it
// and checks it against docs/results.md). The Go runtime's wasm_exec.js is not among them: it
// must come from the toolchain that built the WebAssembly (see WasmExec).
//
//go:embed index.html style.css app.js worker.js accuracy.json
var Assets embed.FS

// JSPackage is the page's WebAssembly program (GOOS=js), and WASIPackage the same inference
// path as a WASI command (GOOS=wasip1).
const (
	JSPackage   = "github.com/dllmrl/agrpo/wasm/cmd/js"
	WASIPackage = "github.com/dllmrl/agrpo/wasm/cmd/wasip1"
)

// Build compiles pkg for GOOS=goos GOARCH=wasm into the file out with the go command on
// PATH, stripped (-s -w) and without file-system paths (-trimpath), which keeps the download
// small. It runs in the current directory, which must be inside this module.
func Build(ctx context.Context, goos, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=wasm")
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s/wasm (it needs the Go toolchain and this module's source): %v\n%s",
			pkg, goos, err, strings.TrimSpace(msg.String()))
	}
	return nil
}

// WasmExec returns the go command's wasm_exec.js, the JavaScript half of the Go runtime for
// GOOS=js; it must match the toolchain Build uses, so it is read from that toolchain.
func WasmExec(ctx context.Context) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js"))
}

// ReadSources reads every file in the directories of pkgs' dependencies inside this module,
// as built for goos/goarch. A test that builds a program calls it so that go test, which
// records the files a test opens, reruns the test when such a file changes, including files
// the test binary itself does not compile (a js-only package, a !amd64 kernel, a command the
// test only runs). It must run while the test runs, not in TestMain before m.Run, where go
// test does not record opened files yet.
func ReadSources(ctx context.Context, goos, goarch string, pkgs ...string) error {
	args := append([]string{"list", "-deps", "-f", "{{if and .Module .Module.Main}}{{.Dir}}{{end}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list %v: %w", pkgs, err)
	}
	for _, dir := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		entries, err := os.ReadDir(dir) // records the directory, so added or removed files count
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
