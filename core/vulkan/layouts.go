package vulkan

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"unsafe"
)

// This file describes every shader of package shaders once, for the Go side: its storage
// buffers (set 0, bindings 0, 1, … in order), its push-constant block as a Go struct and its
// specialization constants as a Go struct. A dispatch (shader.dispatch) takes exactly that push
// struct and that spec struct, so a call site names every value and cannot pass too few, too
// many or the wrong order of them. TestShaderLayouts checks each description against its .comp
// file without a device.

// access is how a shader declares a storage buffer.
type access int

const (
	readWrite access = iota // buffer
	readOnly                // readonly buffer
	writeOnly               // writeonly buffer
)

func (a access) String() string {
	return [...]string{"read-write", "readonly", "writeonly"}[a]
}

// binding describes one storage buffer of a shader.
type binding struct {
	// name is the buffer's array in the .comp (that of its first declaration, where float and
	// vec4 views alias one binding).
	name   string
	access access
	// role is what the Go side binds there, per variant.
	role string
	// ops lists the variants (specialization constant OP) that touch the buffer; the others
	// bind Backend.unused(). Nil: every variant touches it.
	ops []uint32
	// flag, for an optional operand, is the push-constant field that says it is present: while
	// the flag is 0 the binding may be Backend.unused(); once it is set, it may not.
	flag string
}

// shaderDesc is a shader's description, whatever its push and spec types.
type shaderDesc struct {
	name     string
	bindings []binding
	// push is a struct of 32-bit fields (uint32, int32, float32) in the order of the .comp's
	// push_constant block; spec a struct of 32-bit fields, field i being specialization id i.
	push, spec reflect.Type
	// flagAt is, per binding, the byte offset of its flag in the encoded push constants, or −1.
	flagAt []int
	// opAt is the index of the spec's Op field (OP), or −1.
	opAt int
}

// shader is a shader's typed description: its dispatches take a P and an S.
type shader[P, S any] struct{ shaderDesc }

// describe builds the description of shader name with push type P and spec type S. A flag
// that names no uint32 field of P, ops on a shader whose spec has no Op, or a field of P or S
// that is not a 32-bit scalar is a programming error and panics at package init.
func describe[P, S any](name string, bindings ...binding) *shader[P, S] {
	s := &shader[P, S]{shaderDesc{name: name, bindings: bindings, push: reflect.TypeFor[P](), spec: reflect.TypeFor[S](), opAt: -1}}
	mustWords(name, s.push)
	mustWords(name, s.spec)
	if f, ok := s.spec.FieldByName("Op"); ok {
		s.opAt = f.Index[0]
	}
	s.flagAt = make([]int, len(bindings))
	for i, b := range bindings {
		s.flagAt[i] = -1
		if b.ops != nil && s.opAt < 0 {
			panic(fmt.Sprintf("vulkan: shader %s: binding %s lists variants, but %v has no Op", name, b.name, s.spec))
		}
		if b.flag == "" {
			continue
		}
		f, ok := s.push.FieldByName(b.flag)
		if !ok || f.Type.Kind() != reflect.Uint32 {
			panic(fmt.Sprintf("vulkan: shader %s: binding %s's flag %q is no uint32 field of %v", name, b.name, b.flag, s.push))
		}
		s.flagAt[i] = int(f.Offset)
	}
	return s
}

// words views a push-constant or spec struct as its 32-bit fields in order. describe has
// checked that every field of a described P and S is a 32-bit scalar, so the struct has no
// padding and each word is one field's bits (a float32 as math.Float32bits gives them), on any
// byte order. encoding/binary, which reflects over every field, took about 4× the CPU time to
// encode unmask.comp's block.
func words[T any](v *T) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(v)), unsafe.Sizeof(*v)/4)
}

// encode lays out a push-constant struct as the shader reads it: its 32-bit fields in order,
// little-endian, 4 bytes apart (std430 places 32-bit scalars so).
func encode[T any](v T) []byte {
	w := words(&v)
	out := make([]byte, 0, 4*len(w))
	for _, x := range w {
		out = binary.LittleEndian.AppendUint32(out, x)
	}
	return out
}

// specWords is a spec struct as the specialization data's words (ids 0, 1, … in order).
func specWords[S any](v S) []uint32 { return slices.Clone(words(&v)) }

// mustWords panics unless every field of struct type t is a 32-bit scalar, which words needs.
func mustWords(shader string, t reflect.Type) {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("vulkan: shader %s: %v is not a struct", shader, t))
	}
	for i := range t.NumField() {
		switch f := t.Field(i); f.Type.Kind() {
		case reflect.Uint32, reflect.Int32, reflect.Float32:
		default:
			panic(fmt.Sprintf("vulkan: shader %s: field %s of %v is %v, not a 32-bit scalar", shader, f.Name, t, f.Type))
		}
	}
}

// bindUse is how a dispatch binds one buffer: written or read, and whether it is the
// backend's unused stand-in.
type bindUse struct {
	write, unused bool
}

// checkBinds reports a dispatch (push constants, spec words, bindings) whose bindings do not
// fit the description: their number; a write to a readonly buffer or a read of a writeonly one;
// a buffer where the variant touches none (it binds the stand-in); the stand-in where the
// variant touches the buffer, unless it is an optional operand whose flag is 0.
func (d *shaderDesc) checkBinds(push []byte, spec []uint32, uses []bindUse) error {
	if len(uses) != len(d.bindings) {
		return fmt.Errorf("shader %s: %d bindings, it has %d", d.name, len(uses), len(d.bindings))
	}
	for i, u := range uses {
		b := d.bindings[i]
		if b.ops != nil && !slices.Contains(b.ops, spec[d.opAt]) {
			if !u.unused {
				return fmt.Errorf("shader %s: binding %d (%s) is untouched by OP %d: bind the unused stand-in", d.name, i, b.name, spec[d.opAt])
			}
			continue
		}
		if u.unused {
			if at := d.flagAt[i]; at < 0 || binary.LittleEndian.Uint32(push[at:]) != 0 {
				return fmt.Errorf("shader %s: binding %d (%s) is the unused stand-in, but the shader touches it (%s)", d.name, i, b.name, b.role)
			}
			continue
		}
		if (b.access == readOnly && u.write) || (b.access == writeOnly && !u.write) {
			return fmt.Errorf("shader %s: binding %d (%s) is %v, bound with write = %v", d.name, i, b.name, b.access, u.write)
		}
	}
	return nil
}

// noSpec is the spec of a shader without specialization constants.
type noSpec struct{}

// opSpec is the spec of a shader whose only specialization constant is its variant OP.
type opSpec struct{ Op uint32 }

// Forward and backward variants of a shader (its specialization constant OP).
const (
	forward uint32 = iota
	backward
	backwardWeights // rmsnorm.comp's dw pass
)

// elementwise.comp's OP.
const (
	opAdd uint32 = iota
	opScale
)

// unmask.comp's OP.
const (
	unmaskDraw uint32 = iota
	unmaskReveal
)

// Per shader, in file-name order: its push struct (the .comp's push_constant block, field for
// field), its spec struct unless noSpec or opSpec fits, and its description (bindings in order,
// each with its array's name in the .comp).

type adamwPush struct {
	N                                           uint32
	Beta1, Beta2, Eps, StepSize, SqrtBC2, Decay float32
}

var adamwShader = describe[adamwPush, noSpec]("adamw",
	binding{name: "param", role: "param, updated"},
	binding{name: "grad", access: readOnly, role: "grad"},
	binding{name: "m", role: "first moment"},
	binding{name: "v", role: "second moment"})

// attentionPush is the push block of attention.comp and attention_backward.comp.
type attentionPush struct {
	Seq, Heads, KVHeads, HD uint32
	Scale                   float32
}

type attentionSpec struct{ D4, RQ, RK uint32 }

var attentionShader = describe[attentionPush, attentionSpec]("attention",
	binding{name: "o", access: writeOnly, role: "out"},
	binding{name: "lse", access: writeOnly, role: "lse"},
	binding{name: "q", access: readOnly, role: "q"},
	binding{name: "k", access: readOnly, role: "k"},
	binding{name: "v", access: readOnly, role: "v"},
	binding{name: "keyMask", access: readOnly, role: "key mask"})

type attentionBackwardSpec struct{ Op, D4, RQ, RK uint32 }

var attentionBackwardShader = describe[attentionPush, attentionBackwardSpec]("attention_backward",
	binding{name: "dA", role: "dq (OP 0), dk (OP 1)"},
	binding{name: "dB", role: "dv", ops: []uint32{1}},
	binding{name: "Dbuf", role: "D = rowsum(dOut ⊙ out): written by OP 0, read by OP 1"},
	binding{name: "g", access: readOnly, role: "dOut"},
	binding{name: "q", access: readOnly, role: "q"},
	binding{name: "k", access: readOnly, role: "k"},
	binding{name: "v", access: readOnly, role: "v"},
	binding{name: "o", access: readOnly, role: "out"},
	binding{name: "lse", access: readOnly, role: "lse"},
	binding{name: "keyMask", access: readOnly, role: "key mask"})

type clipnormPush struct {
	N, Slot uint32
	MaxNorm float32
}

var clipnormShader = describe[clipnormPush, opSpec]("clipnorm",
	binding{name: "g", role: "a gradient (OP 0 read, OP 2 scaled)", ops: []uint32{0, 2}},
	binding{name: "partial", role: "partial sums (OP 0 written, OP 1 read)", ops: []uint32{0, 1}},
	binding{name: "norm", role: "the norm (OP 1 written, OP 2 read)", ops: []uint32{1, 2}})

type crossentropyPush struct{ Rows, V, Grad uint32 }

var crossentropyShader = describe[crossentropyPush, opSpec]("crossentropy",
	binding{name: "o", role: "dLogits (OP 0, when Grad) or loss (OP 1)", flag: "Grad"},
	binding{name: "rowLoss", role: "row losses (OP 0 written, OP 1 read)"},
	binding{name: "x", access: readOnly, role: "logits", ops: []uint32{0}},
	binding{name: "tg", access: readOnly, role: "targets", ops: []uint32{0}},
	binding{name: "w", access: readOnly, role: "weights", ops: []uint32{0}})

type elementwisePush struct {
	N uint32
	S float32
}

var elementwiseShader = describe[elementwisePush, opSpec]("elementwise",
	binding{name: "o", role: "out"},
	binding{name: "a", access: readOnly, role: "a"},
	binding{name: "b", access: readOnly, role: "b", ops: []uint32{opAdd}})

type embeddingPush struct{ N, D uint32 }

type embeddingSpec struct{ Op, B16 uint32 }

var embeddingShader = describe[embeddingPush, embeddingSpec]("embedding",
	binding{name: "dst", role: "out (forward), dTable (backward)"},
	binding{name: "src", access: readOnly, role: "table (forward, of dtype B16), dOut (backward)"},
	binding{name: "ids", access: readOnly, role: "ids"})

type logsoftmaxPush struct{ Rows, V uint32 }

var logsoftmaxShader = describe[logsoftmaxPush, opSpec]("logsoftmax",
	binding{name: "o", role: "out (forward), dx (backward)"},
	binding{name: "x", access: readOnly, role: "x (forward), dOut (backward)"},
	binding{name: "y", access: readOnly, role: "out", ops: []uint32{backward}})

type matmulPush struct {
	M, N, K                   uint32
	LDA, LDB                  uint32
	StrideA, StrideB, StrideC uint32
	Alpha, Beta               float32
	Splits, Chunk             uint32
}

// matmulSpec: LocalSizeX is the workgroup size (local_size_x_id 0); the flags are 0 or 1.
type matmulSpec struct {
	LocalSizeX, TransA, TransB, Vec4, Lanes, RA, NB, B16 uint32
}

var matmulShader = describe[matmulPush, matmulSpec]("matmul",
	binding{name: "c", role: "C (or the split-K scratch)"},
	binding{name: "a", access: readOnly, role: "A"},
	binding{name: "b", access: readOnly, role: "B, of dtype B16"})

type matmulReducePush struct {
	N, MN, Splits uint32
	Alpha, Beta   float32
}

var matmulReduceShader = describe[matmulReducePush, noSpec]("matmul_reduce",
	binding{name: "c", role: "C"},
	binding{name: "part", access: readOnly, role: "partial products"})

type rmsnormPush struct {
	Rows, D uint32
	Eps     float32
	Chunk   uint32
}

type rmsnormSpec struct{ Op, Serial uint32 }

var rmsnormShader = describe[rmsnormPush, rmsnormSpec]("rmsnorm",
	binding{name: "o", role: "out (OP 0), dx (OP 1)", ops: []uint32{forward, backward}},
	binding{name: "rstd", role: "rstd (OP 0 written, OP 1 and 2 read)"},
	binding{name: "x", access: readOnly, role: "x"},
	binding{name: "w", access: readOnly, role: "w", ops: []uint32{forward, backward}},
	binding{name: "g", access: readOnly, role: "dOut", ops: []uint32{backward, backwardWeights}},
	binding{name: "part", role: "partial dw", ops: []uint32{backwardWeights}})

type ropePush struct {
	Rows, Seq, DM, Heads, Half uint32
	Sign                       float32
}

var ropeShader = describe[ropePush, noSpec]("rope",
	binding{name: "x", role: "x, rotated in place"},
	binding{name: "tab", access: readOnly, role: "cos/sin table"})

type selectionPush struct {
	Rows, V                uint32
	InvTemp                float32
	HasSupport, Untempered uint32
	Tol                    float32
}

var selectionShader = describe[selectionPush, opSpec]("selection",
	binding{name: "o", role: "logF (forward), dLogits (backward, added into)"},
	binding{name: "dF", access: readOnly, role: "dLogF", ops: []uint32{backward}},
	binding{name: "x", access: readOnly, role: "logits"},
	binding{name: "sup", access: readOnly, role: "support, core.EncodeSupport (optional)", flag: "HasSupport"},
	binding{name: "kappa", access: readOnly, role: "kappa"},
	binding{name: "rule", access: readOnly, role: "rule"})

type swigluPush struct{ N uint32 }

var swigluShader = describe[swigluPush, opSpec]("swiglu",
	binding{name: "o", role: "out (forward), dGate (backward)"},
	binding{name: "du", role: "dUp", ops: []uint32{backward}},
	binding{name: "gate", access: readOnly, role: "gate"},
	binding{name: "up", access: readOnly, role: "up"},
	binding{name: "dout", access: readOnly, role: "dOut", ops: []uint32{backward}})

type tokenlogprobsPush struct {
	Rows, V            uint32
	InvTemp            float32
	HasSupport, HasEnt uint32
}

var tokenlogprobsShader = describe[tokenlogprobsPush, opSpec]("tokenlogprobs",
	binding{name: "o", role: "logp (forward), dLogits (backward)"},
	binding{name: "o1", role: "entropy (forward, optional), dLogp (backward, read)", flag: "HasEnt"},
	binding{name: "dEnt", access: readOnly, role: "dEntropy (optional)", ops: []uint32{backward}, flag: "HasEnt"},
	binding{name: "x", access: readOnly, role: "logits"},
	binding{name: "tk", access: readOnly, role: "tokens"},
	binding{name: "sup", access: readOnly, role: "support, core.EncodeSupport (optional)", flag: "HasSupport"})

type unmaskPush struct {
	Rows, Seq, C, V, PromptLen, BlockStart, BlockLen, Reveal, Step uint32
	InvTemp                                                        float32
	Greedy, TopK                                                   uint32
	TopP                                                           float32
	Remasking, Seed, MaskID, HasSupport                            uint32
	Untempered, RowOffset                                          uint32
}

// unmaskSpec: WG is also the workgroup size (local_size_x_id 1).
type unmaskSpec struct{ Op, WG, Lanes uint32 }

var unmaskShader = describe[unmaskPush, unmaskSpec]("unmask",
	binding{name: "rec", role: "per-item records (OP 0 written, OP 1 read)"},
	binding{name: "x", access: readOnly, role: "logits"},
	binding{name: "act", access: readOnly, role: "active rows"},
	binding{name: "tokens", role: "tokens (OP 1 written)"},
	binding{name: "revealStep", role: "reveal steps (OP 1 written)"},
	binding{name: "logp", role: "log-probabilities (OP 1 written)"},
	binding{name: "entropy", role: "entropies (OP 1 written)"},
	binding{name: "support", role: "support (optional)", ops: []uint32{unmaskReveal}, flag: "HasSupport"})

// descriptions lists every shader of package shaders; TestShaderLayouts checks that each has
// a .comp and each .comp a description.
var descriptions = []*shaderDesc{
	&adamwShader.shaderDesc, &attentionShader.shaderDesc, &attentionBackwardShader.shaderDesc,
	&clipnormShader.shaderDesc, &crossentropyShader.shaderDesc, &elementwiseShader.shaderDesc,
	&embeddingShader.shaderDesc, &logsoftmaxShader.shaderDesc, &matmulShader.shaderDesc,
	&matmulReduceShader.shaderDesc, &rmsnormShader.shaderDesc, &ropeShader.shaderDesc,
	&selectionShader.shaderDesc, &swigluShader.shaderDesc, &tokenlogprobsShader.shaderDesc,
	&unmaskShader.shaderDesc,
}
