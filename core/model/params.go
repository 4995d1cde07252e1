package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/dllmrl/agrpo/core"
)

// Block holds one transformer block's weights (Linear weights are [out, in]).
type Block struct {
	AttnNorm, Q, K, V, AttnOut, FFNorm, FFProj, UpProj, FFOut *core.Tensor
}

// Params is a full set of model tensors. The same type holds gradients and optimizer moments,
// so an optimizer walks three Params in step.
type Params struct {
	WTE    *core.Tensor // token embedding [V, D]
	Blocks []Block
	LnF    *core.Tensor // final RMSNorm [D]
	Head   *core.Tensor // untied output head [V, D]
}

// Named is a parameter with its checkpoint name.
type Named struct {
	Name   string
	Tensor *core.Tensor
}

// Shape is a parameter's name and shape, in checkpoint order.
type Shape struct {
	Name  string
	Shape []int
}

// Shapes lists every parameter of a config: the checkpoint's names mirror LLaDA's.
func (c Config) Shapes() []Shape {
	d, f, v, kv := c.DModel, c.MLPHidden, c.VocabSize, c.KVDim()
	s := []Shape{{"model.transformer.wte.weight", []int{v, d}}}
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.transformer.blocks.%d.", i)
		s = append(s,
			Shape{p + "attn_norm.weight", []int{d}},
			Shape{p + "q_proj.weight", []int{d, d}},
			Shape{p + "k_proj.weight", []int{kv, d}},
			Shape{p + "v_proj.weight", []int{kv, d}},
			Shape{p + "attn_out.weight", []int{d, d}},
			Shape{p + "ff_norm.weight", []int{d}},
			Shape{p + "ff_proj.weight", []int{f, d}},
			Shape{p + "up_proj.weight", []int{f, d}},
			Shape{p + "ff_out.weight", []int{d, f}},
		)
	}
	return append(s, Shape{"model.transformer.ln_f.weight", []int{d}}, Shape{"model.transformer.ff_out.weight", []int{v, d}})
}

// NewParams allocates zero-filled tensors for every parameter of cfg.
func NewParams(b core.Backend, cfg Config) *Params {
	shapes := cfg.Shapes()
	ts := make([]*core.Tensor, len(shapes))
	for i, s := range shapes {
		ts[i] = b.Alloc(core.F32, s.Shape...)
	}
	return fromList(cfg, ts)
}

// fromList wires tensors given in Shapes order into the struct.
func fromList(cfg Config, ts []*core.Tensor) *Params {
	p := &Params{WTE: ts[0], LnF: ts[len(ts)-2], Head: ts[len(ts)-1]}
	for i := 0; i < cfg.Layers; i++ {
		t := ts[1+9*i:]
		p.Blocks = append(p.Blocks, Block{t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]})
	}
	return p
}

// List returns the tensors in checkpoint order with their names.
func (p *Params) List(cfg Config) []Named {
	ts := []*core.Tensor{p.WTE}
	for _, bl := range p.Blocks {
		ts = append(ts, bl.AttnNorm, bl.Q, bl.K, bl.V, bl.AttnOut, bl.FFNorm, bl.FFProj, bl.UpProj, bl.FFOut)
	}
	ts = append(ts, p.LnF, p.Head)
	shapes := cfg.Shapes()
	out := make([]Named, len(ts))
	for i, t := range ts {
		out[i] = Named{shapes[i].Name, t}
	}
	return out
}

// Tensors returns the tensors in checkpoint order.
func (p *Params) Tensors(cfg Config) []*core.Tensor {
	named := p.List(cfg)
	ts := make([]*core.Tensor, len(named))
	for i, n := range named {
		ts[i] = n.Tensor
	}
	return ts
}

// Zero sets every tensor to 0 (gradients before a step).
func (p *Params) Zero(b core.Backend, cfg Config) {
	for _, t := range p.Tensors(cfg) {
		b.Fill(t, 0)
	}
}

// Init fills p with a fresh initialisation for seed: norms at 1, embeddings and projections
// N(0, 0.02²), and the two projections that write into the residual stream (attn_out, ff_out)
// scaled by 1/√(2·layers) so the stream's variance does not grow with depth (GPT-2's choice).
func (p *Params) Init(b core.Backend, cfg Config, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x11ada))
	resid := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		switch {
		case n.Tensor.Rank() == 1:
			for i := range v {
				v[i] = 1
			}
		default:
			std := 0.02
			if isResidualOut(n.Name) {
				std = resid
			}
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		b.Upload(n.Tensor, v)
	}
}

func isResidualOut(name string) bool {
	return strings.HasSuffix(name, ".attn_out.weight") ||
		(strings.HasSuffix(name, ".ff_out.weight") && name != "model.transformer.ff_out.weight")
}
