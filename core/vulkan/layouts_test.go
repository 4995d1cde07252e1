package vulkan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readShaders returns every .comp source of package shaders by base name.
func readShaders(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "shaders", "*.comp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shaders found: %v", err)
	}
	srcs := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[strings.TrimSuffix(filepath.Base(f), ".comp")] = string(raw)
	}
	return srcs
}

// TestShaderLayouts checks every shader description against its GLSL, with no device: every
// .comp has one description and every description a .comp; the bindings match in number, array
// name and readonly/writeonly; the push struct matches the push_constant block member by member
// (name, type, byte offset); the spec struct matches the specialization ids (name, type).
func TestShaderLayouts(t *testing.T) {
	srcs := readShaders(t)
	described := map[string]bool{}
	for _, d := range descriptions {
		if described[d.name] {
			t.Errorf("%s is described twice", d.name)
		}
		described[d.name] = true
		src, ok := srcs[d.name]
		if !ok {
			t.Errorf("%s is described but has no .comp", d.name)
			continue
		}
		if err := checkDesc(d, src); err != nil {
			t.Errorf("%s:\n%v", d.name, err)
		}
	}
	for name := range srcs {
		if !described[name] {
			t.Errorf("%s.comp has no description in layouts.go", name)
		}
	}
}

// TestShaderLayoutsCatchMutations shows that the check fails when a .comp and its description
// drift apart: each case edits a real shader's source (the edit must apply) and expects
// checkDesc to name what changed.
func TestShaderLayoutsCatchMutations(t *testing.T) {
	srcs := readShaders(t)
	cases := []struct{ what, shader, old, new, want string }{
		{"push field dropped", "tokenlogprobs", "uint hasSupport, hasEnt;", "uint hasSupport;", "HasEnt"},
		{"push fields reordered", "tokenlogprobs", "uint rows, v;", "uint v, rows;", "Rows"},
		{"push field retyped uint → int", "adamw", "{ uint n; float", "{ int n; float", "int32"},
		{"push field retyped float → uint", "selection", "float tol; }", "uint tol; }", "Tol"},
		{"push floats swapped", "matmul", "float alpha, beta;", "float beta, alpha;", "Alpha"},
		{"push field added", "clipnorm", "float maxNorm; }", "float maxNorm, extra; }", "extra"},
		{"push field renamed", "rope", "half_;", "halfDim;", "Half"},
		{"binding made writable", "swiglu", "readonly buffer B4", "buffer B4", "readonly"},
		{"binding made readonly", "rmsnorm", "buffer B1 { float rstd[]; }", "readonly buffer B1 { float rstd[]; }", "rstd"},
		{"binding dropped", "swiglu", "layout(std430, binding = 4) readonly buffer B4 { float dout[]; };", "", "declares 4 bindings"},
		{"bindings swapped", "elementwise", "InA { float a[]; }", "InA { float b[]; }", "named"},
		{"spec id moved", "attention", "constant_id = 2) const uint RK", "constant_id = 3) const uint RK", "RK"},
		{"spec retyped", "embedding", "const uint B16", "const int B16", "B16"},
		{"spec renamed", "rmsnorm", "const bool SERIAL", "const bool SERIALLY", "SERIAL"},
	}
	byName := map[string]*shaderDesc{}
	for _, d := range descriptions {
		byName[d.name] = d
	}
	for _, c := range cases {
		src := srcs[c.shader]
		if !strings.Contains(src, c.old) {
			t.Errorf("%s: %s.comp no longer contains %q; update the case", c.what, c.shader, c.old)
			continue
		}
		err := checkDesc(byName[c.shader], strings.Replace(src, c.old, c.new, 1))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s (%s.comp): got %v, want an error naming %q", c.what, c.shader, err, c.want)
		}
	}

	// The same from the Go side: a push struct with fields reordered or retyped, a binding
	// missing, a spec struct without one of the source's ids.
	src := srcs["logsoftmax"]
	logsoftmax := byName["logsoftmax"].bindings
	goCases := []struct {
		what string
		d    *shaderDesc
		want string
	}{
		{"Go push fields reordered", &describe[struct{ V, Rows uint32 }, opSpec]("logsoftmax", logsoftmax...).shaderDesc, "the description's V"},
		{"Go push field retyped", &describe[struct {
			Rows uint32
			V    float32
		}, opSpec]("logsoftmax", logsoftmax...).shaderDesc, "float32"},
		{"Go binding missing", &describe[logsoftmaxPush, opSpec]("logsoftmax", logsoftmax[:2]...).shaderDesc, "the description 2"},
	}
	for _, c := range goCases {
		if err := checkDesc(c.d, src); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.what, err, c.want)
		}
	}
	noRK := &describe[attentionPush, struct{ D4, RQ uint32 }]("attention", byName["attention"].bindings...).shaderDesc
	if err := checkDesc(noRK, srcs["attention"]); err == nil || !strings.Contains(err.Error(), "RK") {
		t.Errorf("Go spec field missing: got %v, want an error naming RK", err)
	}
}

// TestCheckBinds checks the dispatch-time binding checks on descriptions with variants and
// optional operands, without a device.
func TestCheckBinds(t *testing.T) {
	d := &tokenlogprobsShader.shaderDesc
	w, r, unused := bindUse{write: true}, bindUse{}, bindUse{unused: true}
	fwd, bwd := specWords(opSpec{forward}), specWords(opSpec{backward})
	entNoBias := encode(tokenlogprobsPush{Rows: 2, V: 5, HasEnt: 1})
	noEnt := encode(tokenlogprobsPush{Rows: 2, V: 5})
	for _, c := range []struct {
		what    string
		push    []byte
		spec    []uint32
		uses    []bindUse
		wantErr string // "" for a valid dispatch
	}{
		{"forward with entropy, no support", entNoBias, fwd, []bindUse{w, w, unused, r, r, unused}, ""},
		{"forward without entropy", noEnt, fwd, []bindUse{w, unused, unused, r, r, unused}, ""},
		{"backward with dEntropy", entNoBias, bwd, []bindUse{w, r, r, r, r, unused}, ""},
		{"backward without dEntropy", noEnt, bwd, []bindUse{w, r, unused, r, r, unused}, ""},
		{"too few bindings", entNoBias, fwd, []bindUse{w, w, unused, r, r}, "5 bindings, it has 6"},
		{"write to a readonly binding", entNoBias, fwd, []bindUse{w, w, unused, w, r, unused}, "binding 3 (x) is readonly"},
		{"stand-in for a flagged operand", entNoBias, fwd, []bindUse{w, unused, unused, r, r, unused}, "binding 1 (o1) is the unused stand-in"},
		{"stand-in for the flagged support", encode(tokenlogprobsPush{HasSupport: 1}), fwd, []bindUse{w, w, unused, r, r, unused}, "binding 5 (sup)"},
		{"stand-in for a required operand", noEnt, fwd, []bindUse{w, unused, unused, unused, r, unused}, "binding 3 (x)"},
		{"a buffer where the variant reads none", noEnt, fwd, []bindUse{w, unused, r, r, r, unused}, "binding 2 (dEnt) is untouched by OP 0"},
	} {
		err := d.checkBinds(c.push, c.spec, c.uses)
		if c.wantErr == "" && err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: got %v, want an error containing %q", c.what, err, c.wantErr)
		}
	}
	if err := attentionShader.checkBinds(encode(attentionPush{}), specWords(attentionSpec{}), []bindUse{r, w, r, r, r, r}); err == nil {
		t.Error("a read-only binding of attention's writeonly output passed")
	}
}

// TestEncode checks the byte layout of push constants and the words of spec constants against
// words written out by hand.
func TestEncode(t *testing.T) {
	got := encode(selectionPush{Rows: 3, V: 70000, InvTemp: 0.5, HasSupport: 1, Untempered: 0, Tol: -2})
	var want []byte
	for _, w := range []uint32{3, 70000, math.Float32bits(0.5), 1, 0, math.Float32bits(-2)} {
		want = binary.LittleEndian.AppendUint32(want, w)
	}
	if !slices.Equal(got, want) {
		t.Errorf("encode: got % x, want % x", got, want)
	}
	spec := specWords(matmulSpec{LocalSizeX: 8, TransA: 1, TransB: 0, Vec4: 1, Lanes: 1, RA: 4, NB: 2, B16: 2})
	if !slices.Equal(spec, []uint32{8, 1, 0, 1, 1, 4, 2, 2}) {
		t.Errorf("specWords: got %v", spec)
	}
	if len(specWords(noSpec{})) != 0 || len(encode(noSpec{})) != 0 {
		t.Error("an empty spec encodes to something")
	}
	// encode reads a struct as 32-bit words, so describe refuses any other field.
	for what, f := range map[string]func(){
		"uint64 push field": func() { describe[struct{ A uint64 }, noSpec]("x") },
		"two uint16 fields": func() {
			describe[struct {
				A    uint32
				B, C uint16
			}, noSpec]("x")
		},
		"bool spec field":      func() { describe[adamwPush, struct{ Op bool }]("x") },
		"non-struct push type": func() { describe[uint32, noSpec]("x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("describe accepted a %s", what)
				}
			}()
			f()
		}()
	}
}

// glslLayout is what a shader's source declares for the host.
type glslLayout struct {
	bindings []glslBinding // by binding number
	push     []glslMember  // the push_constant block's members in order
	specs    map[int]*glslSpec
}

type glslBinding struct {
	name   string
	access access
}

type glslMember struct {
	name, typ string
	offset    int
}

// glslSpec is one specialization id: the names declared with it (a constant, local_size_x …).
type glslSpec struct {
	names []string
	typ   string
}

var (
	comments    = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/`)
	bufferDecl  = regexp.MustCompile(`layout\s*\(([^)]*)\)\s*((?:\w+\s+)*?)buffer\s+\w+\s*\{\s*\w+\s+(\w+)\s*\[`)
	bindingExpr = regexp.MustCompile(`\bbinding\s*=\s*(\d+)`)
	specConst   = regexp.MustCompile(`layout\s*\(\s*constant_id\s*=\s*(\d+)\s*\)\s*const\s+(\w+)\s+(\w+)`)
	localSizeID = regexp.MustCompile(`\b(local_size_[xyz])_id\s*=\s*(\d+)`)
	pushBlock   = regexp.MustCompile(`(?s)layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{(.*?)\}\s*(\w+)`)
)

// glslKinds maps the GLSL types a push block or specialization constant may have to the Go
// kind that carries them: all 32-bit (a bool is a 32-bit word in both places).
var glslKinds = map[string]reflect.Kind{"uint": reflect.Uint32, "int": reflect.Int32, "float": reflect.Float32, "bool": reflect.Uint32}

// parseShader reads the bindings, push constants and specialization ids of a shader's source.
func parseShader(src string) (glslLayout, string, error) {
	src = comments.ReplaceAllString(src, "")
	l := glslLayout{specs: map[int]*glslSpec{}}
	seen := map[int]bool{}
	accesses := map[int][]access{}
	names := map[int]string{}
	for _, m := range bufferDecl.FindAllStringSubmatch(src, -1) {
		b := bindingExpr.FindStringSubmatch(m[1])
		if b == nil {
			return l, "", fmt.Errorf("buffer %s declares no binding", m[3])
		}
		n, _ := strconv.Atoi(b[1])
		if !seen[n] {
			names[n] = m[3]
		}
		seen[n] = true
		a := readWrite
		for _, q := range strings.Fields(m[2]) {
			switch q {
			case "readonly":
				a = readOnly
			case "writeonly":
				a = writeOnly
			}
		}
		accesses[n] = append(accesses[n], a)
	}
	for i := range len(seen) {
		if !seen[i] {
			return l, "", fmt.Errorf("bindings are not 0..%d: %d is missing", len(seen)-1, i)
		}
		a := accesses[i][0]
		for _, o := range accesses[i][1:] {
			if o != a { // views that differ: the binding as a whole is written and read
				a = readWrite
			}
		}
		l.bindings = append(l.bindings, glslBinding{names[i], a})
	}
	addSpec := func(id, name, typ string) {
		n, _ := strconv.Atoi(id)
		s := l.specs[n]
		if s == nil {
			s = &glslSpec{typ: typ}
			l.specs[n] = s
		}
		s.names = append(s.names, name)
		if typ != "uint" { // a local size is a uint; a constant at its id gives the id its type
			s.typ = typ
		}
	}
	for _, m := range specConst.FindAllStringSubmatch(src, -1) {
		addSpec(m[1], m[3], m[2])
	}
	for _, m := range localSizeID.FindAllStringSubmatch(src, -1) {
		addSpec(m[2], m[1], "uint")
	}
	m := pushBlock.FindStringSubmatch(src)
	if m == nil {
		return l, "", nil
	}
	for _, decl := range strings.Split(m[1], ";") {
		fields := strings.Fields(strings.ReplaceAll(decl, ",", " "))
		if len(fields) == 0 {
			continue
		}
		if _, ok := glslKinds[fields[0]]; !ok {
			return l, "", fmt.Errorf("push constant member %q of type %q: only 32-bit scalars are laid out here", strings.Join(fields[1:], ", "), fields[0])
		}
		for _, name := range fields[1:] {
			// std430 places a 32-bit scalar at the next multiple of 4.
			l.push = append(l.push, glslMember{name: name, typ: fields[0], offset: 4 * len(l.push)})
		}
	}
	return l, m[2], nil
}

// sameName compares a GLSL name with a Go field name, ignoring case and underscores.
func sameName(glsl, goName string) bool {
	return strings.EqualFold(strings.ReplaceAll(glsl, "_", ""), goName)
}

// checkDesc reports every way a description disagrees with its shader's source.
func checkDesc(d *shaderDesc, src string) error {
	l, pushVar, err := parseShader(src)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(l.bindings) != len(d.bindings) {
		bad("the source declares %d bindings, the description %d", len(l.bindings), len(d.bindings))
	}
	for i := range min(len(l.bindings), len(d.bindings)) {
		g, b := l.bindings[i], d.bindings[i]
		if !strings.EqualFold(g.name, b.name) {
			bad("binding %d: the source's array is named %s, the description's %s", i, g.name, b.name)
		}
		if g.access != b.access {
			bad("binding %d (%s): the source declares it %v, the description %v", i, b.name, g.access, b.access)
		}
	}

	// Push constants: Go fields in encoding order, each at the running sum of the sizes before.
	off := 0
	for i := range max(len(l.push), d.push.NumField()) {
		if i >= d.push.NumField() {
			bad("push constant %s %s at byte %d has no field in %v", l.push[i].typ, l.push[i].name, l.push[i].offset, d.push)
			continue
		}
		f := d.push.Field(i)
		if i >= len(l.push) {
			bad("field %s of %v has no push constant in the source", f.Name, d.push)
			continue
		}
		g := l.push[i]
		if !sameName(g.name, f.Name) {
			bad("push constant %d: the source's %s, the description's %s", i, g.name, f.Name)
		}
		if glslKinds[g.typ] != f.Type.Kind() {
			bad("push constant %s: the source's %s wants a Go %v, the description's %s is %v", g.name, g.typ, glslKinds[g.typ], f.Name, f.Type)
		}
		if off != g.offset {
			bad("push constant %s: at byte %d in the source, %d as the description encodes it", g.name, g.offset, off)
		}
		off += int(f.Type.Size())
	}
	if n := binary.Size(reflect.New(d.push).Elem().Interface()); n != 4*len(l.push) {
		bad("%v encodes to %d bytes, the source's push block is %d", d.push, n, 4*len(l.push))
	}

	// Specialization constants: field i of the spec struct is id i.
	for id, s := range l.specs {
		if id >= d.spec.NumField() {
			bad("specialization id %d (%s) has no field in %v", id, strings.Join(s.names, ", "), d.spec)
			continue
		}
		f := d.spec.Field(id)
		if !slices.ContainsFunc(s.names, func(n string) bool { return sameName(n, f.Name) }) {
			bad("specialization id %d: the source's %s, the description's %s", id, strings.Join(s.names, ", "), f.Name)
		}
		if glslKinds[s.typ] != f.Type.Kind() {
			bad("specialization id %d (%s): the source's %s wants a Go %v, the description's %s is %v", id, strings.Join(s.names, ", "), s.typ, glslKinds[s.typ], f.Name, f.Type)
		}
	}
	for i := range d.spec.NumField() {
		if l.specs[i] == nil {
			bad("field %s of %v is specialization id %d, which the source does not declare", d.spec.Field(i).Name, d.spec, i)
		}
	}

	// An optional operand's flag is a push constant that the source reads.
	for _, b := range d.bindings {
		if b.flag == "" {
			continue
		}
		i := slices.IndexFunc(l.push, func(m glslMember) bool { return sameName(m.name, b.flag) })
		if i < 0 {
			bad("binding %s: its flag %s is no push constant of the source", b.name, b.flag)
			continue
		}
		if !regexp.MustCompile(`\b` + pushVar + `\.` + l.push[i].name + `\b`).MatchString(src) {
			bad("binding %s: the source never reads its flag %s.%s", b.name, pushVar, l.push[i].name)
		}
	}
	return errors.Join(errs...)
}

// BenchmarkDispatchHost is the host work a described dispatch adds before recording: encoding
// the push and spec structs and checking the bindings, for unmask.comp (the largest block).
func BenchmarkDispatchHost(b *testing.B) {
	pc := unmaskPush{Rows: 64, Seq: 96, C: 32, V: 22, BlockLen: 8, Reveal: 1, InvTemp: 1, TopP: 0.9}
	spec := unmaskSpec{Op: unmaskReveal, WG: 64, Lanes: 1}
	uses := make([]bindUse, 8)
	uses[7].unused = true
	for b.Loop() {
		if err := unmaskShader.checkBinds(encode(pc), specWords(spec), uses); err != nil {
			b.Fatal(err)
		}
	}
}
