package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/wasm/web"
)

// get asks the site for path with an Accept-Encoding header (none when enc is "").
func get(s site, method, path, enc string) *http.Response {
	req := httptest.NewRequest(method, path, nil)
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestSiteServesOnlyItsFiles: the page, its scripts, the WebAssembly and the checkpoints with
// their index, each with its content type; everything else, paths outside the assets and
// directories included, is 404.
func TestSiteServesOnlyItsFiles(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm fake module "), 1000)
	s, err := newSite(wasm, []byte("// wasm_exec"))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := web.Assets.ReadFile("index.html")
	for path, want := range map[string]struct {
		ctype string
		body  []byte
	}{
		"/":             {"text/html; charset=utf-8", index},
		"/index.html":   {"text/html; charset=utf-8", index},
		"/main.wasm":    {"application/wasm", wasm},
		"/wasm_exec.js": {"text/javascript; charset=utf-8", []byte("// wasm_exec")},
	} {
		resp := get(s, "GET", path, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want.ctype || !bytes.Equal(body(t, resp), want.body) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
	for _, f := range []string{"/app.js", "/worker.js", "/style.css", "/accuracy.json"} {
		if resp := get(s, "GET", f, ""); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", f, resp.StatusCode)
		}
	}
	for _, path := range []string{"/nope", "/models/", "/models", "/../go.mod", "/web.go", "/index.html/", "//main.wasm",
		"/models/../main.wasm", "/models/sudoku-base", "/MAIN.WASM", "/testdata/browser.mjs", "/browser_test.go"} {
		if resp := get(s, "GET", path, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get(s, "POST", "/", ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp := get(s, "HEAD", "/main.wasm", ""); resp.StatusCode != 200 || len(body(t, resp)) != 0 {
		t.Errorf("HEAD /main.wasm: %d", resp.StatusCode)
	}
}

// TestSiteModels: index.json lists every shipped checkpoint with its task and method, and
// each is served as it is shipped.
func TestSiteModels(t *testing.T) {
	s, err := newSite([]byte("wasm"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var index struct{ Models []modelInfo }
	if err := json.Unmarshal(body(t, get(s, "GET", "/models/index.json", "")), &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Models) != len(models.Shipped.Names()) {
		t.Fatalf("index lists %d models, %d are shipped", len(index.Models), len(models.Shipped.Names()))
	}
	for i, m := range index.Models {
		raw, _ := models.Shipped.Bytes(models.Shipped.Names()[i])
		if m.Name != models.Shipped.Names()[i] || m.Name != m.Task+"-"+m.Method || m.Bytes != len(raw) {
			t.Errorf("index entry %+v", m)
		}
		resp := get(s, "GET", m.URL, "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body(t, resp), raw) {
			t.Errorf("GET %s: %d, encoding %q", m.URL, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
	}
}

// TestSiteGzip: the WebAssembly goes compressed exactly when the client accepts gzip, with an
// ETag of its own, and revalidation answers 304.
func TestSiteGzip(t *testing.T) {
	wasm := bytes.Repeat([]byte("compressible "), 10000)
	s, err := newSite(wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	for enc, gz := range map[string]bool{
		"": false, "gzip": true, "gzip, deflate, br, zstd": true, "br;q=1.0, gzip;q=0.5": true, "*": true,
		"identity": false, "gzip;q=0": false, "gzip; q=0.000": false, "*;q=0": false, "gzip;q=0, *": false, "deflate": false,
	} {
		resp := get(s, "GET", "/main.wasm", enc)
		n := len(body(t, resp))
		if (resp.Header.Get("Content-Encoding") == "gzip") != gz || n != len(wasm) ||
			!strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, %d bytes decoded", enc, resp.Header.Get("Content-Encoding"), n)
		}
	}
	plain, zipped := get(s, "GET", "/main.wasm", ""), get(s, "GET", "/main.wasm", "gzip")
	if e1, e2 := plain.Header.Get("ETag"), zipped.Header.Get("ETag"); e1 == "" || e1 == e2 {
		t.Errorf("ETags %q and %q", e1, e2)
	}
	req := httptest.NewRequest("GET", "/main.wasm", nil)
	req.Header.Set("If-None-Match", plain.Header.Get("ETag"))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", w.Code)
	}
}

func TestServeUsage(t *testing.T) {
	if code, _, stderr := runDemo("serve", "-addr"); code != 2 || !strings.Contains(stderr, "addr") {
		t.Errorf("serve -addr: exit %d, %q", code, stderr)
	}
	if code, _, _ := runDemo("serve", "extra"); code != 2 {
		t.Errorf("serve extra: exit %d", code)
	}
	if code, _, stderr := runDemo("serve", "-h"); code != 0 || !strings.Contains(stderr, "127.0.0.1:8080") {
		t.Errorf("serve -h: exit %d, %q", code, stderr)
	}
}

// TestServe runs the command for real: it builds the WebAssembly, listens on a free port of
// 127.0.0.1, prints the URL, serves the page, and stops cleanly when cancelled (Ctrl-C).
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The build reads packages this test binary does not compile; see web.ReadSources.
	if err := web.ReadSources(ctx, "js", "wasm", web.JSPackage); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, "127.0.0.1:0", pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	url := ""
	for url == "" && sc.Scan() {
		if m := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/) `).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no URL printed: %v", <-done)
	}
	go io.Copy(io.Discard, pr) // keep serve's later output flowing
	resp, err := http.Get(url + "main.wasm")
	if err != nil {
		t.Fatal(err)
	}
	wasm, _ := io.ReadAll(resp.Body) // the client asked for gzip and decompressed it
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Uncompressed || !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Errorf("GET main.wasm: %d, uncompressed %v, %d bytes", resp.StatusCode, resp.Uncompressed, len(wasm))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of being cancelled")
	}
}

// TestServeWarnsOffLoopback: an address other machines can reach is served with a warning, and
// a loopback one without; both are checked before the WebAssembly build (here cancelled).
func TestServeWarnsOffLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for addr, warn := range map[string]bool{"0.0.0.0:0": true, ":0": true, "127.0.0.1:0": false} {
		var stderr strings.Builder
		if err := serve(ctx, addr, io.Discard, &stderr); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if got := strings.Contains(stderr.String(), "WARNING"); got != warn {
			t.Errorf("%s: warning %v, want %v (%q)", addr, got, warn, stderr.String())
		}
	}
}

// TestServerTimeouts: a silent client is dropped once the header timeout passes, and every
// timeout of the server is set (an idle keep-alive connection does not stay open for ever).
func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts read-header %v, read %v, write %v, idle %v: all must be set",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond // the same server, a test-sized wait
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server answered a client that sent nothing")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a silent connection was still open after 30 s")
	}
}
