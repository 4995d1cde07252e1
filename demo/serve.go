package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
	"github.com/dllmrl/agrpo/wasm/web"
)

// runServe serves the browser demo. It builds the page's WebAssembly from source at start-up
// rather than embedding a prebuilt one: a committed binary would go stale with every change
// to the engine and need a check that it was rebuilt, while the Go toolchain that `go run`
// needs anyway builds it in about a second from a warm cache (half a minute cold).
func runServe(args []string, stdout, stderr io.Writer) error {
	flags := newFlags("serve", "serve [-addr HOST:PORT]", stderr)
	addr := flags.String("addr", "127.0.0.1:8080", "address to listen on (the default, 127.0.0.1, is reachable from this machine only; port 0 picks a free one)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, *addr, stdout, stderr)
}

// serve listens on addr (first, so that a bad address is refused before the build), builds the
// site, prints the URL and serves until ctx is done. An address reachable from other machines
// is served, with a warning on stderr: the page is for a trusted network.
func serve(ctx context.Context, addr string, stdout, stderr io.Writer) error {
	start := time.Now()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return refused(fmt.Errorf("-addr: %w", err))
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(stderr, "WARNING: -addr %q listens on %s, reachable from other machines: the demo server is meant for this machine (127.0.0.1) or a trusted network\n", addr, ln.Addr())
	}
	wasm, err := buildWasm(ctx)
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "stopped") // Ctrl-C during the build is not a build failure
		return nil
	}
	if err != nil {
		return err
	}
	wasmExec, err := web.WasmExec(ctx)
	if err != nil {
		return err
	}
	s, err := newSite(wasm, wasmExec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built the page's WebAssembly (%.1f MB) in %.1fs\n", float64(len(wasm))/1e6, time.Since(start).Seconds())
	srv := newServer(s)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "serving the browser demo at http://%s/ (Ctrl-C stops)\n", ln.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Let requests in flight (a checkpoint download) finish, but not forever.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// buildWasm builds the page's WebAssembly into a temporary folder and returns its bytes.
func buildWasm(ctx context.Context) ([]byte, error) {
	dir, err := os.MkdirTemp("", "agrpo-serve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "main.wasm")
	if err := web.Build(ctx, "js", web.JSPackage, out); err != nil {
		return nil, fmt.Errorf("%w\n(serve builds the page from this repository's source: run it inside the repository, as `go run ./demo serve`)", err)
	}
	return os.ReadFile(out)
}

// contentSecurityPolicy lets the page load nothing from anywhere but this server, and run
// WebAssembly ('wasm-unsafe-eval') but no eval or inline script.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// asset is one file the site serves, held in memory.
type asset struct {
	ctype string
	body  []byte
	etag  string
	// compress marks the large binaries (the WebAssembly, checkpoints), sent gzip-compressed
	// to clients that accept it; the gzip is made once, in the background at start-up.
	compress bool
	gzOnce   sync.Once
	gz       []byte
}

func newAsset(ctype string, body []byte, compress bool) *asset {
	return &asset{ctype: ctype, body: body, etag: fmt.Sprintf(`"%x"`, sha256.Sum256(body)), compress: compress}
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
		zw.Write(a.body)                                       // writes to a bytes.Buffer do not fail
		zw.Close()
		a.gz = b.Bytes()
	})
	return a.gz
}

// site serves exactly its assets, by path; anything else is 404, so no directory is listed
// and no path leads outside them.
type site map[string]*asset

// modelInfo is one entry of /models/index.json.
type modelInfo struct {
	Name   string `json:"name"`
	Task   string `json:"task"`
	Method string `json:"method"`
	URL    string `json:"url"`
	Bytes  int    `json:"bytes"`
}

// newSite assembles the page: the embedded assets, the Go runtime's wasm_exec.js, the built
// WebAssembly, and every shipped checkpoint with an index of them. A checkpoint is listed
// under the task its name starts with (<task>-<method>); one whose task is unknown is left
// out, since the page could not pose it a problem.
func newSite(wasm, wasmExec []byte) (site, error) {
	s := site{
		"/main.wasm":    newAsset("application/wasm", wasm, true),
		"/wasm_exec.js": newAsset("text/javascript; charset=utf-8", wasmExec, false),
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".json": "application/json"}
	err := fs.WalkDir(web.Assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := web.Assets.ReadFile(name)
		if err != nil {
			return err
		}
		ctype, ok := types[path.Ext(name)]
		if !ok {
			return fmt.Errorf("serve: no content type for the page's file %s", name)
		}
		s["/"+name] = newAsset(ctype, body, false)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s["/"] = s["/index.html"]
	var index struct {
		Models []modelInfo `json:"models"`
	}
	index.Models = []modelInfo{} // an empty list, not null, when nothing is shipped
	for _, name := range models.Shipped.Names() {
		taskName, method, _ := strings.Cut(name, "-")
		if _, err := task.ByName(taskName); err != nil {
			continue
		}
		raw, _ := models.Shipped.Bytes(name) // a listed name always has its file
		url := "/models/" + name + ".safetensors"
		s[url] = newAsset("application/octet-stream", raw, true)
		index.Models = append(index.Models, modelInfo{Name: name, Task: taskName, Method: method, URL: url, Bytes: len(raw)})
	}
	js, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	s["/models/index.json"] = newAsset("application/json", js, false)
	for _, a := range s {
		if a.compress {
			go a.gzipped()
		}
	}
	return s, nil
}

func (s site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := s[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	// Revalidate every time (cheap: the ETag answers 304), so a restarted server with a
	// rebuilt WebAssembly is never mixed with a cached old one.
	h.Set("Cache-Control", "no-cache")
	body, etag := a.body, a.etag
	if a.compress {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = a.gzipped(), strings.TrimSuffix(etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed with a q-value
// above 0, or not listed while * is.
func acceptsGzip(headers []string) bool {
	gz, star := -1.0, -1.0 // the q-values; −1 where the coding is not listed
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip":
				gz = q
			case "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// newServer serves h with timeouts that bound what a silent or idle connection holds; the
// largest response (the WebAssembly, a few MB) takes well under WriteTimeout even on a slow link.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute}
}
