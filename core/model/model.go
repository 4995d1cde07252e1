package model

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
)

// Model runs the forward and backward passes of one parameter set on one backend. Activations
// are kept from Forward for Backward in buffers sized once per (batch, length) and reused; a
// smaller batch at the same length uses views of the same buffers.
//
// The output head is run in chunks of rows, so that memory for logits does not scale with
// rows × V (at a real vocabulary a batch's logits are gigabytes): Hidden runs the model up to
// the final norm, Logits computes the logits of a range of rows into a chunk-sized buffer,
// HeadBackward takes a range's ∂loss/∂logits, and BackwardHidden finishes the backward once every
// row has had its HeadBackward. Forward and Backward do the same over all rows at once, with
// a [B, L, V] buffer, for callers that want the whole tensor.
type Model struct {
	Cfg   Config
	B     core.Backend
	P     *Params
	Grads *Params // accumulated by Backward; nil until AllocGrads, and nil when LoRA freezes the base
	LoRA  *LoRA   // adapters (AttachLoRA); nil for full fine-tuning
	// ChunkBytes bounds a chunk of logits in bytes (0: LogitsBudget); set it before the first
	// pass. Tests make it small to run many chunks at a small vocabulary.
	ChunkBytes int

	// normSink takes the norm weights' gradients, which the backward ops always accumulate,
	// when the base is frozen: one [D] scratch instead of a gradient per weight.
	normSink *core.Tensor
	frozen   *Params // Backward's stand-in for Grads when the base is frozen (frozenGrads)

	acts *activations // buffers for the largest batch seen at the current length
	cur  *activations // the view of acts used by the last Forward

	held    [2]int       // the rows [lo, hi) whose logits acts.logits holds; hi = 0 for none
	seqView *core.Tensor // the last SeqLogits view, and the chunk it was made from
	seqSrc  core.Tensor
	dFlat   *core.Tensor // the cached [B·L, V] view of Backward's argument
	dSource core.Tensor  // the handle dFlat was made from

	// Cached views, so a steady-state Forward and Backward allocate nothing.
	view  *activations              // the last view of acts, for batch view.batch
	flats map[*core.Tensor]flatView // 2-D views of Backward's matmul operands
	rv    *rowActs                  // the last block's row views of the last HiddenRows, nil after Hidden
	rvs   *rowActs                  // the last row views made, reused while their view and rows hold
}

// flatView is a cached [N, last dim] view of src, valid while src keeps its storage and offset.
type flatView struct {
	src  core.Tensor // the tensor's handle when the view was made
	flat *core.Tensor
}

// New wraps parameters for cfg on backend b.
func New(b core.Backend, cfg Config, p *Params) *Model {
	return &Model{Cfg: cfg, B: b, P: p}
}

// AllocGrads allocates zeroed gradient buffers (once): for every parameter, or with LoRA for
// the adapters alone (a frozen base weight gets no gradient).
func (m *Model) AllocGrads() {
	if m.LoRA == nil {
		if m.Grads == nil {
			m.Grads = NewParams(m.B, m.Cfg)
		}
		return
	}
	if m.normSink != nil {
		return
	}
	m.normSink = m.B.Alloc(core.F32, m.Cfg.DModel)
	m.frozen = m.frozenGrads()
	for _, ad := range m.LoRA.Adapters {
		ad.GradA, ad.GradB = m.B.Alloc(core.F32, ad.A.Shape()...), m.B.Alloc(core.F32, ad.B.Shape()...)
	}
}

// frozenGrads stands in for Grads when the base is frozen: the norms' gradients go to the sink,
// the other entries are nil, so Backward skips their gradients.
func (m *Model) frozenGrads() *Params {
	g := &Params{LnF: m.normSink, Blocks: make([]Block, m.Cfg.Layers)}
	for i := range g.Blocks {
		g.Blocks[i] = Block{AttnNorm: m.normSink, FFNorm: m.normSink}
	}
	return g
}

// grads is where Backward accumulates: Grads, or with LoRA the frozen stand-in.
func (m *Model) grads() *Params {
	g := m.Grads
	if m.LoRA != nil {
		g = m.frozen
	}
	if g == nil {
		panic("model: Backward before AllocGrads")
	}
	return g
}

// layerActs are what one block's backward needs from its forward.
type layerActs struct {
	xIn, hAttn, q, attn, xMid, hFF *core.Tensor    // [B, L, D]
	k, v                           *core.Tensor    // [B, L, KVDim]
	rstdAttn, rstdFF               *core.Tensor    // [B·L]
	lse                            *core.Tensor    // [B, H, L]
	gate, up, act                  *core.Tensor    // [B, L, F]
	lora                           [7]*core.Tensor // x·Aᵀ [B, L, r] of each adapted module, in Modules order
}

type activations struct {
	batch, seq int
	tokens     *core.Tensor // the ids of the Forward that filled this view, for the embedding backward
	keyMask    *core.Tensor
	layers     []layerActs
	xOut, hOut *core.Tensor // final residual stream and its norm [B, L, D]
	rstdOut    *core.Tensor
	// HiddenRows's compact buffers, N ≤ B·L rows used: the last block's attention output
	// gathered at the rows, and the backward's residual gradient there.
	rowAttn, rowDx *core.Tensor // [B·L, D]
	// The head's chunk buffers, [HeadRows(B·L, L), V], shared by every view.
	logits, dLogits *core.Tensor
	full            *core.Tensor // Forward's whole logits [B, L, V], allocated on its first use
	loraHead        *core.Tensor // x·Aᵀ [B, L, r] of the head's adapter
	// Backward scratch.
	dLoRA             *core.Tensor // [B, L, r]
	dx, dh, dq, dAttn *core.Tensor // [B, L, D]
	dk, dv            *core.Tensor // [B, L, KVDim]
	dGate, dUp, dAct  *core.Tensor // [B, L, F]
}

// ActivationBytes is what allocActs takes for batch rows of seq tokens (forward buffers and
// backward scratch, float32), as a float64 so that an absurd size cannot overflow: the memory
// check of a run sizes its batches with it before anything is allocated.
func (c Config) ActivationBytes(batch, seq int) float64 {
	d, f, kv := float64(c.DModel), float64(c.MLPHidden), float64(c.KVDim())
	perLayer := 6*d + 2*kv + 3*f + 2 + float64(c.Heads)                    // xIn…hFF (k, v KVDim wide), gate/up/act, two rstd, lse
	perToken := float64(c.Layers)*perLayer + 8*d + 2*kv + 3*f + 1          // 8 D-wide: xOut, hOut, rowAttn, rowDx, dx, dh, dq, dAttn
	head := 2 * float64(c.HeadRows(batch*seq, seq)) * float64(c.VocabSize) // logits and dLogits chunks
	return 4 * (float64(batch)*float64(seq)*perToken + head)
}

// LogitsBudget is the bytes a chunk of float32 logits may take: 64 MiB keeps memory for the
// head far below the rest of a large model's and every Vulkan storage binding under lavapipe's
// 128 MiB maxStorageBufferRange.
const LogitsBudget = 64 << 20

// HeadRows is the rows of the head's chunk buffers for a pass over rows rows of sequences of
// seq tokens under a budget of LogitsBudget bytes: as many rows of logits as fit it, or all
// rows when fewer, but never less than one sequence (the sampler draws a sequence's tokens from
// one chunk).
func (c Config) HeadRows(rows, seq int) int { return c.headRows(rows, seq, LogitsBudget) }

func (c Config) headRows(rows, seq, budget int) int {
	return max(min(rows, budget/(4*c.VocabSize)), min(seq, rows))
}

func (m *Model) allocActs(batch, seq int) *activations {
	b, c := m.B, m.Cfg
	d, f := c.DModel, c.MLPHidden
	bld := func() *core.Tensor { return b.Alloc(core.F32, batch, seq, d) }
	blk := func() *core.Tensor { return b.Alloc(core.F32, batch, seq, c.KVDim()) }
	blf := func() *core.Tensor { return b.Alloc(core.F32, batch, seq, f) }
	a := &activations{batch: batch, seq: seq}
	for i := 0; i < c.Layers; i++ {
		a.layers = append(a.layers, layerActs{
			xIn: bld(), hAttn: bld(), q: bld(), k: blk(), v: blk(), attn: bld(), xMid: bld(), hFF: bld(),
			rstdAttn: b.Alloc(core.F32, batch, seq), rstdFF: b.Alloc(core.F32, batch, seq),
			lse:  b.Alloc(core.F32, batch, c.Heads, seq),
			gate: blf(), up: blf(), act: blf(),
		})
	}
	a.xOut, a.hOut, a.rstdOut = bld(), bld(), b.Alloc(core.F32, batch, seq)
	a.rowAttn, a.rowDx = b.Alloc(core.F32, batch*seq, d), b.Alloc(core.F32, batch*seq, d)
	budget := m.ChunkBytes
	if budget <= 0 {
		budget = LogitsBudget
	}
	head := c.headRows(batch*seq, seq, budget)
	a.logits, a.dLogits = b.Alloc(core.F32, head, c.VocabSize), b.Alloc(core.F32, head, c.VocabSize)
	a.dx, a.dh, a.dq, a.dk, a.dv, a.dAttn = bld(), bld(), bld(), blk(), blk(), bld()
	a.dGate, a.dUp, a.dAct = blf(), blf(), blf()
	if m.LoRA != nil {
		blr := func() *core.Tensor { return b.Alloc(core.F32, batch, seq, m.LoRA.Cfg.R) }
		for i := range a.layers {
			for k, ad := range m.LoRA.blocks[i] {
				if ad != nil {
					a.layers[i].lora[k] = blr()
				}
			}
		}
		if m.LoRA.Adapters[headModule] != nil {
			a.loraHead = blr()
		}
		a.dLoRA = blr()
	}
	return a
}

// view returns the first batch rows of every buffer.
func (a *activations) view(batch int) *activations {
	r := func(t *core.Tensor) *core.Tensor {
		if t == nil { // a module without an adapter
			return nil
		}
		return t.Rows(0, batch)
	}
	v := &activations{batch: batch, seq: a.seq}
	for _, l := range a.layers {
		la := layerActs{
			xIn: r(l.xIn), hAttn: r(l.hAttn), q: r(l.q), k: r(l.k), v: r(l.v), attn: r(l.attn), xMid: r(l.xMid), hFF: r(l.hFF),
			rstdAttn: r(l.rstdAttn), rstdFF: r(l.rstdFF), lse: r(l.lse), gate: r(l.gate), up: r(l.up), act: r(l.act),
		}
		for k, t := range l.lora {
			la.lora[k] = r(t)
		}
		v.layers = append(v.layers, la)
	}
	v.xOut, v.hOut, v.rstdOut, v.logits, v.dLogits = r(a.xOut), r(a.hOut), r(a.rstdOut), a.logits, a.dLogits
	v.loraHead, v.dLoRA = r(a.loraHead), r(a.dLoRA)
	v.rowAttn, v.rowDx = a.rowAttn, a.rowDx // cut per call to the rows' count
	v.dx, v.dh, v.dq, v.dk, v.dv, v.dAttn = r(a.dx), r(a.dh), r(a.dq), r(a.dk), r(a.dv), r(a.dAttn)
	v.dGate, v.dUp, v.dAct = r(a.dGate), r(a.dUp), r(a.dAct)
	return v
}

// buffers returns activations for (batch, seq), reusing the last allocation when it fits.
func (m *Model) buffers(batch, seq int) *activations {
	if m.acts == nil || m.acts.seq != seq || m.acts.batch < batch {
		if m.acts != nil {
			m.freeActs()
		}
		m.acts = m.allocActs(batch, seq)
		m.cur, m.view = nil, nil
		clear(m.flats)
	}
	if m.view == nil || m.view.batch != batch {
		m.view = m.acts.view(batch)
		clear(m.flats)
	}
	return m.view
}

// flat returns t seen as [N, last dim], reusing a cached view when t has not changed.
func (m *Model) flat(t *core.Tensor) *core.Tensor {
	if t.Rank() == 2 {
		return t
	}
	if f, ok := m.flats[t]; ok && f.src.SameView(t) {
		return f.flat
	}
	if m.flats == nil || len(m.flats) >= 256 {
		m.flats = make(map[*core.Tensor]flatView)
	}
	f := t.Reshape(t.Len()/t.Dim(-1), t.Dim(-1))
	m.flats[t] = flatView{src: *t, flat: f}
	return f
}

func (m *Model) freeActs() {
	a := m.acts
	for _, l := range a.layers {
		for _, t := range append([]*core.Tensor{l.xIn, l.hAttn, l.q, l.k, l.v, l.attn, l.xMid, l.hFF, l.rstdAttn, l.rstdFF, l.lse, l.gate, l.up, l.act}, l.lora[:]...) {
			m.free(t)
		}
	}
	for _, t := range []*core.Tensor{a.xOut, a.hOut, a.rstdOut, a.rowAttn, a.rowDx, a.logits, a.dLogits, a.full, a.dx, a.dh, a.dq, a.dk, a.dv, a.dAttn, a.dGate, a.dUp, a.dAct, a.loraHead, a.dLoRA} {
		m.free(t)
	}
	m.acts, m.cur, m.view, m.rv, m.rvs = nil, nil, nil, nil, nil
	clear(m.flats)
}

// free releases t unless it is nil (a LoRA buffer of a module without an adapter, a whole-logits
// buffer never asked for).
func (m *Model) free(t *core.Tensor) {
	if t != nil {
		m.B.Free(t)
	}
}

// Forward runs the model on tokens [B, L] (I32) with keyMask [B, L] (I32, 1 = real token,
// 0 = padding) and returns logits [B, L, V]. The logits buffer belongs to the model and is
// overwritten by the next Forward; Backward uses this call's activations. It holds B·L·V floats:
// Hidden and Logits give the same logits a chunk of rows at a time.
func (m *Model) Forward(tokens, keyMask *core.Tensor) *core.Tensor {
	m.Hidden(tokens, keyMask)
	a := m.cur
	if a.full == nil {
		if m.acts.full == nil {
			m.acts.full = m.B.Alloc(core.F32, m.acts.batch, a.seq, m.Cfg.VocabSize)
		}
		a.full = m.acts.full.Part(0, a.batch)
	}
	m.forwardLinear(m.head(nil), a.full, a.hOut, a.loraHead, 0)
	return a.full
}

// Hidden runs the model on tokens [B, L] (I32) with keyMask [B, L] (I32, 1 = real token,
// 0 = padding) up to the final norm; Logits then gives the logits of any B·L rows (position l
// of sequence b is row b·L + l) and the backward uses this call's activations.
func (m *Model) Hidden(tokens, keyMask *core.Tensor) { m.HiddenRows(tokens, keyMask, nil) }

// HiddenRows is Hidden for a caller that reads the logits at some rows only: rows (I32 [N],
// distinct row indices b·L + l, nil for all) are the rows it computes; the hidden state, and so
// the logits, of every other row is 0. Attention is bidirectional, so every block but the last
// runs on every position as before, and the last runs its attention (keys and values of every
// position) in full; its output projection, MLP and the final norm run on the N rows only,
// which a sampler or a policy-gradient pass that scores the completion (never the prompt) can
// skip. The rows' hidden states are Hidden's bit for bit: every op on them works row by row.
// The backward after HiddenRows reads ∂loss/∂hidden at the rows only.
func (m *Model) HiddenRows(tokens, keyMask, rows *core.Tensor) {
	if tokens.Rank() != 2 || !core.SameShape(tokens.Shape(), keyMask.Shape()) {
		panic(fmt.Sprintf("model: tokens %v and key mask %v must both be [B, L]", tokens, keyMask))
	}
	batch, seq := tokens.Dim(0), tokens.Dim(1)
	if seq > m.Cfg.MaxSeqLen {
		panic(fmt.Sprintf("model: sequence length %d exceeds max_sequence_length %d", seq, m.Cfg.MaxSeqLen))
	}
	if rows != nil && (rows.DType() != core.I32 || rows.Len() == 0 || rows.Len() > batch*seq) {
		panic(fmt.Sprintf("model: rows %v must be I32 and hold 1 to B·L = %d row indices", rows, batch*seq))
	}
	b, c, p := m.B, m.Cfg, m.P
	a := m.buffers(batch, seq)
	a.tokens, a.keyMask = tokens, keyMask
	m.cur, m.held, m.rv = a, [2]int{}, nil
	eps := float32(c.NormEps)
	theta := float32(c.RopeTheta)

	b.Embedding(a.layers[0].xIn, p.WTE, tokens)
	for i, bl := range p.Blocks {
		l := a.layers[i]
		lin := func(k int, y, x *core.Tensor, beta float32) {
			m.forwardLinear(m.linear(i, k, bl.Linears()[k], nil), y, x, l.lora[k], beta)
		}
		// Attention half: xMid = xIn + attn_out(Attention(RoPE(q), RoPE(k), v)).
		b.RMSNorm(l.hAttn, l.rstdAttn, l.xIn, bl.AttnNorm, eps)
		lin(0, l.q, l.hAttn, 0)
		lin(1, l.k, l.hAttn, 0)
		lin(2, l.v, l.hAttn, 0)
		b.RoPE(l.q, c.Heads, theta)
		b.RoPE(l.k, c.KVHeadCount(), theta)
		b.Attention(l.attn, l.lse, l.q, l.k, l.v, keyMask, c.Heads)
		if rows != nil && i+1 == len(p.Blocks) {
			m.rv = m.rowViews(a, rows)
			m.lastBlockRows(i, bl, l, m.rv)
			return
		}
		b.Copy(l.xMid, l.xIn)
		lin(3, l.xMid, l.attn, 1)
		next := a.xOut
		if i+1 < len(a.layers) {
			next = a.layers[i+1].xIn
		}
		m.mlpForward(i, bl, a.mlp(l), next)
	}
	b.RMSNorm(a.hOut, a.rstdOut, a.xOut, p.LnF, eps)
}

// mlpHalf is what one block's MLP half, xNext = xMid + ff_out(silu(ff_proj(h))·up_proj(h)) with
// h = RMSNorm(xMid), reads and writes: on all B·L rows (activations.mlp), or on HiddenRows's
// rows of the last block (rowActs.mlp).
type mlpHalf struct {
	xMid, hFF, rstdFF, gate, up, act *core.Tensor
	lora                             [7]*core.Tensor // x·Aᵀ of the adapted modules, in Modules order
	dx, dh, dGate, dUp, dAct, dLoRA  *core.Tensor    // backward scratch
}

// mlp is block l's MLP half on every row, with a's backward scratch.
func (a *activations) mlp(l layerActs) mlpHalf {
	return mlpHalf{xMid: l.xMid, hFF: l.hFF, rstdFF: l.rstdFF, gate: l.gate, up: l.up, act: l.act, lora: l.lora,
		dx: a.dx, dh: a.dh, dGate: a.dGate, dUp: a.dUp, dAct: a.dAct, dLoRA: a.dLoRA}
}

// mlp is the last block's MLP half on the rows.
func (r *rowActs) mlp() mlpHalf {
	return mlpHalf{xMid: r.xMid, hFF: r.hFF, rstdFF: r.rstdFF, gate: r.gate, up: r.up, act: r.act, lora: r.lora,
		dx: r.dx, dh: r.dh, dGate: r.dGate, dUp: r.dUp, dAct: r.dAct, dLoRA: r.dLoRA}
}

// mlpForward runs block i's MLP half from h.xMid into next.
func (m *Model) mlpForward(i int, bl Block, h mlpHalf, next *core.Tensor) {
	lin := func(k int, y, x *core.Tensor, beta float32) {
		m.forwardLinear(m.linear(i, k, bl.Linears()[k], nil), y, x, h.lora[k], beta)
	}
	m.B.RMSNorm(h.hFF, h.rstdFF, h.xMid, bl.FFNorm, float32(m.Cfg.NormEps))
	lin(4, h.gate, h.hFF, 0)
	lin(5, h.up, h.hFF, 0)
	m.B.SwiGLU(h.act, h.gate, h.up)
	m.B.Copy(next, h.xMid)
	lin(6, next, h.act, 1)
}

// mlpBackward takes ∂/∂xNext in h.dx, which also flows unchanged to xMid through the residual,
// accumulates the MLP half's gradients into gb, and leaves ∂/∂xMid in h.dx.
func (m *Model) mlpBackward(i int, bl, gb Block, h mlpHalf) {
	ws, gs := bl.Linears(), gb.Linears()
	lin := func(k int, dx, dy, x *core.Tensor, addInto bool) {
		m.backwardLinear(m.linear(i, k, ws[k], gs[k]), dx, dy, x, h.lora[k], h.dLoRA, addInto)
	}
	lin(6, h.dAct, h.dx, h.act, false)
	m.B.SwiGLUBackward(h.dGate, h.dUp, h.dAct, h.gate, h.up)
	lin(4, h.dh, h.dGate, h.hFF, false)
	lin(5, h.dh, h.dUp, h.hFF, true)
	m.B.RMSNormBackward(h.dx, gb.FFNorm, h.dh, h.xMid, bl.FFNorm, h.rstdFF)
}

// rowActs are the last block's activations past its attention at HiddenRows's N rows: views of
// the first N rows of buffers that the full pass would use there, and of the compact ones.
type rowActs struct {
	base                            *activations    // the batch view they were cut from
	ids                             *core.Tensor    // the rows, as passed
	attn, xMid, hFF, xOut, dx       *core.Tensor    // [N, D]
	hOut, dh                        *core.Tensor    // [N, D]: scratch for the norm's output, then ∂/∂hidden
	rstdFF, rstdOut                 *core.Tensor    // [N]
	gate, up, act, dGate, dUp, dAct *core.Tensor    // [N, F]
	lora                            [7]*core.Tensor // x·Aᵀ [N, r] of the adapted modules (nil without)
	dLoRA                           *core.Tensor    // [N, r], nil without adapters
}

// rowViews returns the row views for a's last block and ids, reusing the last ones when they fit.
func (m *Model) rowViews(a *activations, ids *core.Tensor) *rowActs {
	if r := m.rvs; r != nil && r.base == a && r.ids == ids {
		return r
	}
	n := ids.Len()
	rows := func(t *core.Tensor) *core.Tensor {
		if t == nil {
			return nil
		}
		return t.Reshape(t.Len()/t.Dim(-1), t.Dim(-1)).Part(0, n)
	}
	vec := func(t *core.Tensor) *core.Tensor { return t.Reshape(t.Len()).Part(0, n) }
	l := a.layers[len(a.layers)-1]
	r := &rowActs{base: a, ids: ids,
		attn: rows(a.rowAttn), xMid: rows(l.xMid), hFF: rows(l.hFF), xOut: rows(a.xOut), dx: rows(a.rowDx),
		// Backward scratch, free in a forward; dq is free in the backward until the last block's attention.
		hOut: rows(a.dx), dh: rows(a.dq),
		rstdFF: vec(l.rstdFF), rstdOut: vec(a.rstdOut),
		gate: rows(l.gate), up: rows(l.up), act: rows(l.act), dGate: rows(a.dGate), dUp: rows(a.dUp), dAct: rows(a.dAct),
		dLoRA: rows(a.dLoRA)}
	for k, t := range l.lora {
		r.lora[k] = rows(t)
	}
	m.rvs = r
	return r
}

// lastBlockRows runs block i (the last) past its attention and the final norm on r's rows, and
// scatters their hidden states into the full ones (0 elsewhere).
func (m *Model) lastBlockRows(i int, bl Block, l layerActs, r *rowActs) {
	b, a := m.B, m.cur
	eps := float32(m.Cfg.NormEps)
	lin := func(k int, y, x *core.Tensor, beta float32) {
		m.forwardLinear(m.linear(i, k, bl.Linears()[k], nil), y, x, r.lora[k], beta)
	}
	b.Embedding(r.attn, m.flat(l.attn), r.ids)
	b.Embedding(r.xMid, m.flat(l.xIn), r.ids)
	lin(3, r.xMid, r.attn, 1)
	m.mlpForward(i, bl, r.mlp(), r.xOut)
	b.RMSNorm(r.hOut, r.rstdOut, r.xOut, m.P.LnF, eps)
	b.Fill(a.hOut, 0)
	b.EmbeddingBackward(m.flat(a.hOut), r.hOut, r.ids) // 0 + x: the rows' states exactly
}

// Rows is the number of rows, B·L, of the last Hidden.
func (m *Model) Rows() int { return m.cur.batch * m.cur.seq }

// MaxChunk is the most rows one Logits call can take after the last Hidden:
// Config.HeadRows for its shape.
func (m *Model) MaxChunk() int { return m.cur.logits.Dim(0) }

// Logits returns the logits [hi−lo, V] of rows [lo, hi) of the last Hidden, in the model's
// chunk buffer (at most MaxChunk rows), which the next Logits call may overwrite. Asking for
// the rows the buffer holds already computes nothing, so a caller whose rows fit one chunk
// pays for the head once however many passes it makes.
func (m *Model) Logits(lo, hi int) *core.Tensor {
	a := m.cur
	out := m.chunk(a.logits, lo, hi)
	if m.held != [2]int{lo, hi} {
		m.forwardLinear(m.head(nil), out, m.rows(a.hOut, lo, hi), m.rows(a.loraHead, lo, hi), 0)
		m.held = [2]int{lo, hi}
	}
	return out
}

// rows is rows [lo, hi) of t seen as [B·L, last dim] (nil for nil: a module without an adapter).
func (m *Model) rows(t *core.Tensor, lo, hi int) *core.Tensor {
	if t == nil {
		return nil
	}
	return m.flat(t).Part(lo, hi)
}

// SeqLogits is Logits of whole sequences [lo, hi) of the last Hidden, as [hi−lo, L, V].
func (m *Model) SeqLogits(lo, hi int) *core.Tensor {
	seq := m.cur.seq
	flat := m.Logits(lo*seq, hi*seq)
	if m.seqView == nil || !m.seqSrc.SameView(flat) {
		m.seqView, m.seqSrc = flat.Reshape(hi-lo, seq, m.Cfg.VocabSize), *flat
	}
	return m.seqView
}

// DLogits returns a scratch buffer [hi−lo, V] for ∂loss/∂logits of rows [lo, hi), which
// HeadBackward reads; it is the model's, overwritten by the next DLogits call's user.
func (m *Model) DLogits(lo, hi int) *core.Tensor { return m.chunk(m.cur.dLogits, lo, hi) }

// chunk is the first hi−lo rows of a head buffer, after checking the range.
func (m *Model) chunk(buf *core.Tensor, lo, hi int) *core.Tensor {
	if m.cur == nil {
		panic("model: head before Hidden")
	}
	if lo < 0 || hi > m.Rows() || lo >= hi || hi-lo > buf.Dim(0) {
		panic(fmt.Sprintf("model: head rows [%d, %d) of %d in chunks of at most %d", lo, hi, m.Rows(), buf.Dim(0)))
	}
	return buf.Part(0, hi-lo)
}

// Backward takes ∂loss/∂logits [B, L, V] for the last Forward and accumulates every parameter's
// gradient into m.Grads (call AllocGrads first; zero the grads between optimizer steps).
func (m *Model) Backward(dLogits *core.Tensor) {
	a := m.cur
	if a == nil || !core.SameShape(dLogits.Shape(), []int{a.batch, a.seq, m.Cfg.VocabSize}) {
		panic(fmt.Sprintf("model: Backward with %v does not match the last Forward", dLogits))
	}
	if m.dFlat == nil || !m.dSource.SameView(dLogits) {
		m.dFlat, m.dSource = dLogits.Reshape(m.Rows(), m.Cfg.VocabSize), *dLogits
	}
	m.headBackward(m.dFlat, 0, m.Rows())
	m.BackwardHidden()
}

// HeadBackward takes ∂loss/∂logits [hi−lo, V] of rows [lo, hi) of the last Hidden, accumulates
// the head's gradient and writes those rows of ∂loss/∂hidden. Every row must have had its
// HeadBackward, once, before BackwardHidden.
func (m *Model) HeadBackward(dLogits *core.Tensor, lo, hi int) {
	m.chunk(m.cur.dLogits, lo, hi) // checks the range
	m.headBackward(dLogits, lo, hi)
}

func (m *Model) headBackward(dLogits *core.Tensor, lo, hi int) {
	a := m.cur
	m.backwardLinear(m.head(m.grads().Head), m.rows(a.dh, lo, hi), dLogits, m.rows(a.hOut, lo, hi),
		m.rows(a.loraHead, lo, hi), m.rows(a.dLoRA, lo, hi), false)
}

// head is the output head as a Linear, with gradient g (nil when frozen).
func (m *Model) head(g *core.Tensor) Linear {
	return Linear{W: m.P.Head, Grad: g, LoRA: m.adapter(headModule)}
}

// forwardLinear writes y = x·Wᵀ + beta·y plus the adapter's update Scale·(x·Aᵀ)·Bᵀ, keeping
// x·Aᵀ in t for the backward (nil without an adapter).
func (m *Model) forwardLinear(l Linear, y, x, t *core.Tensor, beta float32) {
	m.B.MatMul(y, x, l.W, false, true, 1, beta)
	if ad := l.LoRA; ad != nil {
		m.B.MatMul(t, x, ad.A, false, true, 1, 0)
		m.B.MatMul(y, t, ad.B, false, true, ad.Scale, 1)
	}
}

// backwardLinear takes dy for a forwardLinear of x: it accumulates ∂/∂W (unless frozen) and the
// adapter's ∂/∂A, ∂/∂B, and writes dx (adds, when addInto). t is the forward's x·Aᵀ and dt a
// scratch of its shape.
func (m *Model) backwardLinear(l Linear, dx, dy, x, t, dt *core.Tensor, addInto bool) {
	b := m.B
	if l.Grad != nil {
		b.MatMul(l.Grad, m.flat(dy), m.flat(x), true, false, 1, 1)
	}
	beta := float32(0)
	if addInto {
		beta = 1
	}
	b.MatMul(dx, dy, l.W, false, false, 1, beta)
	if ad := l.LoRA; ad != nil {
		b.MatMul(ad.GradB, m.flat(dy), m.flat(t), true, false, ad.Scale, 1)
		b.MatMul(dt, dy, ad.B, false, false, ad.Scale, 0)
		b.MatMul(ad.GradA, m.flat(dt), m.flat(x), true, false, 1, 1)
		b.MatMul(dx, dt, ad.A, false, false, 1, 1)
	}
}

// BackwardHidden back-propagates ∂loss/∂hidden, written by HeadBackward for every row of the
// last Hidden, through the final norm, the blocks and the embedding into the gradient of every
// trainable tensor (Trainables).
func (m *Model) BackwardHidden() {
	g := m.grads()
	a := m.cur
	b, c, p := m.B, m.Cfg, m.P
	theta := float32(c.RopeTheta)

	last := len(p.Blocks) - 1
	if r := m.rv; r != nil {
		// The final norm, the last block's MLP half and its output projection on the rows; their
		// gradients then enter the full buffers at the rows (every other row's are 0).
		bl, gb := p.Blocks[last], g.Blocks[last]
		b.Embedding(r.dh, m.flat(a.dh), r.ids)
		b.Fill(r.dx, 0)
		b.RMSNormBackward(r.dx, g.LnF, r.dh, r.xOut, p.LnF, r.rstdOut)
		m.mlpBackward(last, bl, gb, r.mlp())
		m.backwardLinear(m.linear(last, 3, bl.AttnOut, gb.AttnOut), r.dh, r.dx, r.attn, r.lora[3], r.dLoRA, false)
		b.Fill(a.dAttn, 0)
		b.EmbeddingBackward(m.flat(a.dAttn), r.dh, r.ids)
		b.Fill(a.dx, 0)
		b.EmbeddingBackward(m.flat(a.dx), r.dx, r.ids)
	} else {
		b.Fill(a.dx, 0)
		b.RMSNormBackward(a.dx, g.LnF, a.dh, a.xOut, p.LnF, a.rstdOut)
	}
	for i := last; i >= 0; i-- {
		bl, gb, l := p.Blocks[i], g.Blocks[i], a.layers[i]
		ws, gs := bl.Linears(), gb.Linears()
		lin := func(k int, dx, dy, x *core.Tensor, addInto bool) {
			m.backwardLinear(m.linear(i, k, ws[k], gs[k]), dx, dy, x, l.lora[k], a.dLoRA, addInto)
		}
		if i < last || m.rv == nil { // else done on the rows above
			m.mlpBackward(i, bl, gb, a.mlp(l))
			// Attention half; a.dx now holds ∂/∂xMid.
			lin(3, a.dAttn, a.dx, l.attn, false)
		}
		b.AttentionBackward(a.dq, a.dk, a.dv, a.dAttn, l.q, l.k, l.v, l.attn, l.lse, a.keyMask, c.Heads)
		b.RoPEBackward(a.dq, c.Heads, theta)
		b.RoPEBackward(a.dk, c.KVHeadCount(), theta)
		lin(0, a.dh, a.dq, l.hAttn, false)
		lin(1, a.dh, a.dk, l.hAttn, true)
		lin(2, a.dh, a.dv, l.hAttn, true)
		b.RMSNormBackward(a.dx, gb.AttnNorm, a.dh, l.xIn, bl.AttnNorm, l.rstdAttn)
	}
	if g.WTE != nil {
		b.EmbeddingBackward(g.WTE, a.dx, a.tokens)
	}
}
