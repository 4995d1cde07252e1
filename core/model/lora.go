package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/dllmrl/agrpo/core"
)

// Modules are LLaDA's linear layers of a block, in the order Block.Linears returns them.
var Modules = []string{"q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"}

// headModule is the output head's module path; PEFT's suffix match puts it under "ff_out" too.
const headModule = "model.transformer.ff_out"

// LoRAConfig is PEFT's LoraConfig as far as the model needs it: rank r, lora_alpha (the update
// is scaled by alpha/r), lora_dropout and target_modules, which name LLaDA's modules.
type LoRAConfig struct {
	R       int      `toml:"r"` // 0 in a run config: no LoRA (full fine-tuning)
	Alpha   float64  `toml:"alpha"`
	Dropout float64  `toml:"dropout"`
	Targets []string `toml:"target_modules"`
}

// Validate reports the first setting that is wrong, as "key: value, why" with the config keys
// r, alpha, dropout and target_modules.
func (l LoRAConfig) Validate() error {
	switch {
	case l.R < 1:
		return fmt.Errorf("r: %d, want ≥ 1", l.R)
	case !(l.Alpha > 0) || math.IsInf(l.Alpha, 0):
		return fmt.Errorf("alpha: %v, want a positive number", l.Alpha)
	case l.Dropout != 0:
		// Dropout needs an elementwise-mask op the backends do not have; the official AGRPO
		// recipe uses 0.
		return fmt.Errorf("dropout: %v, only 0 is supported", l.Dropout)
	case len(l.Targets) == 0:
		return fmt.Errorf("target_modules: empty, want some of %s", strings.Join(Modules, ", "))
	}
	for _, t := range l.Targets {
		if !slices.Contains(Modules, t) {
			return fmt.Errorf("target_modules: %q is not a LLaDA linear module (want some of %s)", t, strings.Join(Modules, ", "))
		}
	}
	return nil
}

// Scale is the factor alpha/r that multiplies the adapter's update.
func (l LoRAConfig) Scale() float32 { return float32(l.Alpha / float64(l.R)) }

// matches is PEFT's target_modules rule for a list: the module's path equals a target or ends
// with "." + target. So "ff_out" adapts every block's ff_out and also the output head,
// model.transformer.ff_out, as it does in PEFT on LLaDA.
func (l LoRAConfig) matches(path string) bool {
	for _, t := range l.Targets {
		if path == t || strings.HasSuffix(path, "."+t) {
			return true
		}
	}
	return false
}

// Linears returns the block's projection weights in Modules order.
func (bl *Block) Linears() [7]*core.Tensor {
	return [7]*core.Tensor{bl.Q, bl.K, bl.V, bl.AttnOut, bl.FFProj, bl.UpProj, bl.FFOut}
}

// Adapter is one LoRA pair on a linear layer: the layer adds Scale·(x·Aᵀ)·Bᵀ to x·Wᵀ.
type Adapter struct {
	A, B         *core.Tensor // [r, in], [out, r]
	GradA, GradB *core.Tensor // nil until Model.AllocGrads
	Scale        float32
}

// Linear is one projection y = x·Wᵀ of a [out, in] weight as the forward and backward see it:
// the weight (F32, or BF16/F16 when frozen), its gradient (nil when frozen) and an optional
// adapter. The model builds these views from its Params, so they never go stale.
type Linear struct {
	W    *core.Tensor // [out, in]
	Grad *core.Tensor // ∂loss/∂W accumulates here; nil when W is frozen
	LoRA *Adapter     // nil without an adapter
}

// LoRA is a model's set of adapters.
type LoRA struct {
	Cfg      LoRAConfig
	Adapters map[string]*Adapter // by module path, e.g. model.transformer.blocks.0.q_proj
	blocks   [][7]*Adapter       // the same by block and Modules index, nil where none
}

// blockPath is block i's module prefix in LLaDA's checkpoint names.
func blockPath(i int) string { return fmt.Sprintf("model.transformer.blocks.%d.", i) }

// loraSite is one adapted module: its path, its block and Modules index (block −1: the head)
// and its weight's [out, in] shape.
type loraSite struct {
	path          string
	block, module int
	out, in       int
}

// loraSites lists the modules l adapts, in the trainable order: blocks in order, Modules order
// within a block, then the head.
func (c Config) loraSites(l LoRAConfig) []loraSite {
	d, f, kv := c.DModel, c.MLPHidden, c.KVDim()
	dims := [7][2]int{{d, d}, {kv, d}, {kv, d}, {d, d}, {f, d}, {f, d}, {d, f}}
	var out []loraSite
	for i := 0; i < c.Layers; i++ {
		for k, mod := range Modules {
			if p := blockPath(i) + mod; l.matches(p) {
				out = append(out, loraSite{p, i, k, dims[k][0], dims[k][1]})
			}
		}
	}
	if l.matches(headModule) {
		out = append(out, loraSite{headModule, -1, -1, c.VocabSize, c.DModel})
	}
	return out
}

// LoRAParams is the number of adapter parameters cfg adds to a model of c.
func (c Config) LoRAParams(l LoRAConfig) int {
	n := 0
	for _, s := range c.loraSites(l) {
		n += l.R * (s.out + s.in)
	}
	return n
}

// LoRAActivationBytes is what allocActs adds with adapters l for batch rows of seq tokens: x·Aᵀ
// of every adapted module and one scratch of its shape, float32.
func (c Config) LoRAActivationBytes(l LoRAConfig, batch, seq int) float64 {
	return 4 * float64(batch) * float64(seq) * float64(l.R) * float64(len(c.loraSites(l))+1)
}

// AttachLoRA freezes the base weights and adds adapters initialised as PEFT does: A from
// kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in), drawn from seed, and B zero, so the adapted
// model starts equal to the base. Call it before AllocGrads.
func (m *Model) AttachLoRA(l LoRAConfig, seed uint64) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if m.Grads != nil {
		return fmt.Errorf("model: AttachLoRA after AllocGrads")
	}
	rng := rand.New(rand.NewPCG(seed, 0x10a))
	lo := &LoRA{Cfg: l, Adapters: map[string]*Adapter{}, blocks: make([][7]*Adapter, m.Cfg.Layers)}
	for _, site := range m.Cfg.loraSites(l) {
		a := make([]float32, l.R*site.in)
		bound := 1 / math.Sqrt(float64(site.in))
		for j := range a {
			a[j] = float32((2*rng.Float64() - 1) * bound)
		}
		ad := &Adapter{A: m.B.Alloc(core.F32, l.R, site.in), B: m.B.Alloc(core.F32, site.out, l.R), Scale: l.Scale()}
		m.B.Upload(ad.A, a)
		lo.Adapters[site.path] = ad
		if site.block >= 0 {
			lo.blocks[site.block][site.module] = ad
		}
	}
	if m.acts != nil { // the activation buffers now need room for the adapters
		m.freeActs()
	}
	m.LoRA = lo
	return nil
}

// linear is block i's module k (an index into Modules) as a Linear of weight w with gradient g
// (nil when frozen).
func (m *Model) linear(i, k int, w, g *core.Tensor) Linear {
	l := Linear{W: w, Grad: g}
	if m.LoRA != nil {
		l.LoRA = m.LoRA.blocks[i][k]
	}
	return l
}

// adapter is the adapter of a module path, nil when there is none.
func (m *Model) adapter(path string) *Adapter {
	if m.LoRA == nil {
		return nil
	}
	return m.LoRA.Adapters[path]
}

// Trainable is one trained tensor: its checkpoint name, the tensor and its gradient buffer.
// The list of them (Model.Trainables) is what gradients, clipping, the optimizer, checkpoints
// and resume walk.
type Trainable struct {
	Name        string
	Param, Grad *core.Tensor
}

// Trainables lists what training changes, in a fixed order: every parameter in checkpoint order
// for full fine-tuning, or the adapters' A and B with PEFT's names
// (base_model.model.<module path>.lora_A.weight) when the base is frozen. Grad is nil before
// AllocGrads.
func (m *Model) Trainables() []Trainable {
	if m.LoRA == nil {
		var grads []Named
		if m.Grads != nil {
			grads = m.Grads.List(m.Cfg)
		}
		var out []Trainable
		for i, n := range m.P.List(m.Cfg) {
			t := Trainable{Name: n.Name, Param: n.Tensor}
			if grads != nil {
				t.Grad = grads[i].Tensor
			}
			out = append(out, t)
		}
		return out
	}
	var out []Trainable
	for _, site := range m.Cfg.loraSites(m.LoRA.Cfg) {
		ad := m.LoRA.Adapters[site.path]
		out = append(out,
			Trainable{Name: PEFTName(site.path, "A"), Param: ad.A, Grad: ad.GradA},
			Trainable{Name: PEFTName(site.path, "B"), Param: ad.B, Grad: ad.GradB})
	}
	return out
}

// PEFTName is the name PEFT saves an adapter matrix (ab is "A" or "B") of a module path under.
func PEFTName(path, ab string) string {
	return "base_model.model." + path + ".lora_" + ab + ".weight"
}

// ZeroGrads sets every trainable's gradient to 0 (before a step).
func (m *Model) ZeroGrads() {
	for _, t := range m.Trainables() {
		m.B.Fill(t.Grad, 0)
	}
}

// MergedParams returns new F32 parameters W + (α/r)·B·A for every adapted weight and copies of
// the others: the adapted model as a plain one, for export and for checking the adapters.
func (m *Model) MergedParams() *Params {
	b := m.B
	out := NewParams(b, m.Cfg)
	dst := out.List(m.Cfg)
	for i, n := range m.P.List(m.Cfg) {
		v := make([]float32, n.Tensor.Len())
		b.Download(n.Tensor, v)
		b.Upload(dst[i].Tensor, v)
		path := strings.TrimSuffix(n.Name, ".weight")
		if ad := m.adapter(path); ad != nil {
			b.MatMul(dst[i].Tensor, ad.B, ad.A, false, false, ad.Scale, 1)
		}
	}
	return out
}
