package shaders

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed .spv files from their sources (just shaders)")

// TestSPIRVUpToDate recompiles every shader into a temporary folder and fails when the committed
// SPIR-V differs (or is missing), so CI notices a source edited without `just shaders`. glslc's
// output is deterministic for a given version, which this relies on; with -update it rewrites
// the committed files instead. Without glslc the check is skipped unless AGRPO_REQUIRE_GLSLC=1.
func TestSPIRVUpToDate(t *testing.T) {
	glslc, err := exec.LookPath("glslc")
	if err != nil {
		if os.Getenv("AGRPO_REQUIRE_GLSLC") == "1" {
			t.Fatal("glslc not found (Debian package glslc) and AGRPO_REQUIRE_GLSLC=1")
		}
		t.Skip("glslc not found; install Debian's glslc to check the committed SPIR-V")
	}
	sources, _ := filepath.Glob("*.comp")
	if len(sources) == 0 {
		t.Fatal("no shader sources")
	}
	dir := t.TempDir()
	for _, src := range sources {
		name := strings.TrimSuffix(src, ".comp")
		out := filepath.Join(dir, name+".spv")
		args := append(append([]string(nil), GlslcArgs...), "-o", out, src)
		if msg, err := exec.Command(glslc, args...).CombinedOutput(); err != nil {
			t.Fatalf("glslc %s: %v\n%s", src, err, msg)
		}
		fresh, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(name+".spv", fresh, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		committed, err := SPIRV(name)
		if err != nil || !bytes.Equal(committed, fresh) {
			t.Errorf("%s.spv is stale or missing: run `just shaders` and commit the result", name)
		}
	}
	if *update {
		return
	}
	// Every embedded .spv must have a source, or it is a leftover.
	entries, _ := spirv.ReadDir(".")
	for _, e := range entries {
		if _, err := os.Stat(strings.TrimSuffix(e.Name(), ".spv") + ".comp"); err != nil {
			t.Errorf("%s has no source .comp: delete it", e.Name())
		}
	}
}
