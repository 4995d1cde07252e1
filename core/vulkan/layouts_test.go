package vulkan

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestShaderLayouts checks shaderLayouts against the shaders' GLSL, with no device: every .comp
// has an entry and every entry a .comp; the bindings are exactly 0..bindings−1 (a binding may be
// declared twice, as float and vec4 views of one buffer); the push-constant block has push bytes
// of 32-bit members; the specialization ids are 0..specs−1 at most.
func TestShaderLayouts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "shaders", "*.comp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shaders found: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".comp")
		seen[name] = true
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := shaderLayouts[name]
		if !ok {
			t.Errorf("%s: no entry in shaderLayouts", name)
			continue
		}
		got, err := parseLayout(string(raw))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.bindings != want.bindings || got.push != want.push || got.specs < want.specs {
			t.Errorf("%s: source declares %d bindings, %d push bytes, specialization ids up to %d; shaderLayouts says %+v",
				name, got.bindings, got.push, got.specs-1, want)
		}
	}
	for name := range shaderLayouts {
		if !seen[name] {
			t.Errorf("shaderLayouts names %q, which has no .comp", name)
		}
	}
}

var (
	comments    = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/`)
	layoutQual  = regexp.MustCompile(`layout\s*\(([^)]*)\)`)
	bindingExpr = regexp.MustCompile(`\bbinding\s*=\s*(\d+)`)
	specExpr    = regexp.MustCompile(`\b(?:constant_id|local_size_[xyz]_id)\s*=\s*(\d+)`)
	pushBlock   = regexp.MustCompile(`(?s)layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{(.*?)\}`)
)

// parseLayout reads what a shader declares (comments removed). specs is the largest id + 1.
func parseLayout(src string) (shaderLayout, error) {
	src = comments.ReplaceAllString(src, "")
	var l shaderLayout
	bindings := map[int]bool{}
	for _, q := range layoutQual.FindAllStringSubmatch(src, -1) {
		if m := bindingExpr.FindStringSubmatch(q[1]); m != nil {
			n, _ := strconv.Atoi(m[1])
			bindings[n] = true
		}
		for _, m := range specExpr.FindAllStringSubmatch(q[1], -1) {
			n, _ := strconv.Atoi(m[1])
			l.specs = max(l.specs, n+1)
		}
	}
	for i := range bindings {
		if !bindings[i] {
			return l, fmt.Errorf("bindings %v are not 0..%d", bindings, len(bindings)-1)
		}
	}
	l.bindings = len(bindings)
	if m := pushBlock.FindStringSubmatch(src); m != nil {
		for _, decl := range strings.Split(m[1], ";") {
			fields := strings.Fields(strings.ReplaceAll(decl, ",", " , "))
			if len(fields) == 0 {
				continue
			}
			switch fields[0] {
			case "uint", "int", "float", "bool":
			default:
				return l, fmt.Errorf("push constant member of type %q: only 32-bit scalars are sized here", fields[0])
			}
			for _, f := range fields[1:] {
				if f != "," {
					l.push += 4
				}
			}
		}
	}
	return l, nil
}
