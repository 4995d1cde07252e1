// Package sampler is LLaDA's unmasking sampler with the records AGRPO needs. A batch of prompts
// is extended by gen_length masks; the completion is denoised in semi-autoregressive blocks,
// each over an equal share of the steps, revealing get_num_transfer_tokens positions per step
// by the remasking rule. For every completion token it records the step that revealed it, its
// log-probability under the distribution actually drawn from, that distribution's entropy and
// its top-k/top-p support, so the state before any step can be rebuilt exactly and the step's
// likelihood recomputed. Every step runs through core.Backend (one forward, then the head and an
// UnmaskStep per chunk of rows), so a GPU backend runs the loop on the device.
package sampler

import (
	"errors"
	"fmt"
	"math"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
)

// Config holds the sampling settings (LLaDA's generate() arguments plus AGRPO's top-k/top-p).
type Config struct {
	GenLength   int             `toml:"gen_length"`   // completion tokens
	BlockLength int             `toml:"block_length"` // tokens per semi-autoregressive block; 0: one block
	Steps       int             `toml:"steps"`        // total denoising steps, split evenly over blocks; 0: GenLength
	Temperature float32         `toml:"temperature"`  // 0: greedy
	TopK        int             `toml:"top_k"`        // 0: off
	TopP        float32         `toml:"top_p"`        // 0 or 1: off
	Remasking   core.Remasking  `toml:"-"`
	Confidence  core.Confidence `toml:"-"` // what low_confidence ranks by: tempered (AGRPO's) or untempered (LLaDA's)
	Seed        uint32          `toml:"seed"`
	// RowOffset makes the prompts rows RowOffset, RowOffset+1, … of a larger batch for the random
	// draws, so that a batch sampled in parts (by the ranks of a data-parallel job) draws the
	// same completions as the whole batch at once.
	RowOffset int `toml:"-"`
}

// Resolved is c with its defaults filled in: BlockLength 0 is one block over the whole
// completion, Steps 0 one token per step.
func (c Config) Resolved() Config {
	if c.BlockLength == 0 {
		c.BlockLength = c.GenLength
	}
	if c.Steps == 0 {
		c.Steps = c.GenLength
	}
	return c
}

// Validate reports settings the schedule cannot honour (after Resolved's defaults).
func (c Config) Validate() error {
	c = c.Resolved()
	switch {
	case c.GenLength <= 0:
		return fmt.Errorf("gen_length = %d, must be positive", c.GenLength)
	case c.BlockLength <= 0 || c.GenLength%c.BlockLength != 0:
		return fmt.Errorf("block_length = %d must divide gen_length = %d", c.BlockLength, c.GenLength)
	case c.Steps <= 0 || c.Steps%(c.GenLength/c.BlockLength) != 0:
		return fmt.Errorf("steps = %d must be a positive multiple of the %d blocks", c.Steps, c.GenLength/c.BlockLength)
	case c.Steps/(c.GenLength/c.BlockLength) > c.BlockLength:
		return fmt.Errorf("steps = %d gives more steps per block than the block's %d tokens", c.Steps, c.BlockLength)
	case !(c.Temperature >= 0) || math.IsInf(float64(c.Temperature), 1):
		return fmt.Errorf("temperature = %g, must be finite and ≥ 0", c.Temperature)
	case c.TopK < 0:
		return fmt.Errorf("top_k = %d, must be ≥ 0", c.TopK)
	case !(c.TopP >= 0 && c.TopP <= 1):
		return fmt.Errorf("top_p = %g, must be in [0, 1]", c.TopP)
	}
	return nil
}

// NumTransfer is LLaDA's get_num_transfer_tokens for one row: how many of `masked` positions
// each of `steps` steps reveals — masked/steps each, the first masked%steps steps one more.
func NumTransfer(masked, steps int) []int {
	n := make([]int, steps)
	for i := range n {
		n[i] = masked / steps
		if i < masked%steps {
			n[i]++
		}
	}
	return n
}

// Trajectories are the records of one sampled batch: B rows, each a left-padded prompt of P
// tokens and a completion of C tokens, over a vocabulary of V.
type Trajectories struct {
	B, P, C, V int
	Config     Config
	MaskID     int32
	EOSID      int32
	Prompt     []int32   // [B·P], left-padded
	PromptMask []int32   // [B·P]: 1 for real prompt tokens, 0 for padding
	Tokens     []int32   // [B·C]: the completions
	RevealStep []int32   // [B·C]: the step that revealed each token
	LogP       []float32 // [B·C]: log-probability under the distribution drawn from (0 for filled EOS)
	Entropy    []float32 // [B·C]: that distribution's entropy (0 for filled EOS)
	// drawn[k] holds, sparsely, the support every position of step k's block drew from at step
	// k (revealed or left masked): the kept token ids, ascending, of position j of row r at
	// [r·(hi−lo) + j−lo] for the block [lo, hi); nil for a position that did not draw. drawn is
	// nil when top-k and top-p are off (greedy included), since the support is then every
	// token but the mask. Dense, the record would be StepsRun·B·C·V floats: hundreds of
	// gigabytes at a real vocabulary; kept ids are at most top_k per position.
	drawn    [][][]int32
	StepsRun int   // steps actually taken (fewer than Config.Steps when every row stopped early)
	RowSteps []int // [B]: steps each row sampled (a stopped row's later tokens are EOS fill, not samples)
}

// Cuts reports whether top-k or top-p remove tokens from the support at this temperature (then
// the sampler keeps every row's block of support flags, [B, BlockLength, V]).
func (c Config) Cuts() bool {
	return c.Temperature > 0 && (c.TopK > 0 || (c.TopP > 0 && c.TopP < 1))
}

// Completion returns row r's completion tokens.
func (t *Trajectories) Completion(r int) []int32 { return t.Tokens[r*t.C : (r+1)*t.C] }

// StateBefore rebuilds row r's completion as it was before step k: every token revealed at
// step k or later is masked again.
func (t *Trajectories) StateBefore(r, k int) []int32 {
	out := make([]int32, t.C)
	for j := range out {
		out[j] = t.Tokens[r*t.C+j]
		if t.RevealStep[r*t.C+j] >= int32(k) {
			out[j] = t.MaskID
		}
	}
	return out
}

// DrawSupport is the support position j of row r drew from at step k, as its kept token ids in
// ascending order (a position revealed at k drew its token from it), or nil when no top-k/top-p
// cut was recorded and the support is every token but the mask. The caller must not modify it.
func (t *Trajectories) DrawSupport(r, k, j int) []int32 {
	if t.drawn == nil {
		return nil
	}
	lo, hi := t.StepBlock(k)
	if j < lo || j >= hi {
		panic(fmt.Sprintf("sampler: position %d is outside step %d's block [%d, %d)", j, k, lo, hi))
	}
	return t.drawn[k][r*(hi-lo)+j-lo]
}

// recordDraws keeps, sparsely, the support of every position that drew at step k: those of its
// block still masked before it (revealed at k, or still masked after it, per revealStep). dense
// is the step's support record [B·BlockLength·V] of the block's positions (0 inside, −Inf
// outside).
func (t *Trajectories) recordDraws(k int, dense []float32, revealStep []int32) {
	lo, hi := t.StepBlock(k)
	step := make([][]int32, t.B*(hi-lo))
	for r := 0; r < t.B; r++ {
		for j := lo; j < hi; j++ {
			if rs := revealStep[r*t.C+j]; rs != -1 && int(rs) != k {
				continue
			}
			var ids []int32
			i := r*(hi-lo) + j - lo
			for id, x := range dense[i*t.V : (i+1)*t.V] {
				if !math.IsInf(float64(x), -1) {
					ids = append(ids, int32(id))
				}
			}
			step[i] = ids
		}
	}
	t.drawn = append(t.drawn, step)
}

// StepBlock is the semi-autoregressive block [lo, hi) of completion positions that step k
// samples in.
func (t *Trajectories) StepBlock(k int) (lo, hi int) {
	perBlock := t.Config.Steps / (t.C / t.Config.BlockLength)
	lo = k / perBlock * t.Config.BlockLength
	return lo, lo + t.Config.BlockLength
}

// LastSampledStep is the last step at which row r revealed a token other than EOS (−1 if
// none): AGRPO trains steps 0..LastSampledStep, the official code's K_b − 1.
func (t *Trajectories) LastSampledStep(r int) int {
	last := -1
	for j := 0; j < t.C; j++ {
		if t.Tokens[r*t.C+j] != t.EOSID && int(t.RevealStep[r*t.C+j]) > last {
			last = int(t.RevealStep[r*t.C+j])
		}
	}
	return last
}

// StepFunc observes sampling: it is called before the first step (step −1) and after every
// step with the batch's current sequences [B·(P+C)] and the log-probabilities recorded so far
// for the completions [B·C] (0 where nothing is revealed yet), as the host sees them.
type StepFunc func(step int, tokens []int32, logp []float32)

// Prompt is one row's prompt: its tokens and their key mask (1 = attended, 0 = padding; nil
// means all attended). Rows of different lengths are left-padded to the longest with the
// model's pad id, masked out.
type Prompt struct {
	Tokens, Mask []int32
}

// Generate samples completions for prompts with model m. The random draws of row r depend on
// (seed, step, cfg.RowOffset + r, position) only.
func Generate(m *model.Model, prompts []Prompt, cfg Config, onStep StepFunc) (*Trajectories, error) {
	cfg = cfg.Resolved()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	t, tok, keyMask, err := layOut(m.Cfg, prompts, cfg)
	if err != nil {
		return nil, err
	}
	b := m.B
	nb, c, v, seq := t.B, t.C, t.V, t.P+t.C
	steps := make([]int32, nb*c)
	for i := range steps {
		steps[i] = -1
	}
	active := make([]int32, nb)
	for i := range active {
		active[i] = 1
	}
	st := core.UnmaskState{
		Tokens: b.Alloc(core.I32, nb, seq), RevealStep: b.Alloc(core.I32, nb, c),
		LogP: b.Alloc(core.F32, nb, c), Entropy: b.Alloc(core.F32, nb, c), Active: b.Alloc(core.I32, nb),
	}
	keyMaskT := b.Alloc(core.I32, nb, seq)
	// Only a top-k/top-p cut makes a support worth recording: then every step's draws are read
	// back and kept as kept ids (recordDraws), for the likelihood of the positions each step
	// revealed or, exactly, left masked.
	if cfg.Cuts() {
		st.Support = b.Alloc(core.F32, nb, cfg.BlockLength, v) // a step draws in its block only
	}
	defer func() {
		for _, x := range []*core.Tensor{st.Tokens, st.RevealStep, st.LogP, st.Entropy, st.Support, st.Active, keyMaskT} {
			if x != nil {
				b.Free(x)
			}
		}
	}()
	b.UploadInt(st.Tokens, tok)
	b.UploadInt(st.RevealStep, steps)
	b.UploadInt(st.Active, active)
	b.UploadInt(keyMaskT, keyMask)
	t.denoise(m, st, keyMaskT, active, tok, onStep)
	if err := b.Sync(); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	t.readBack(b, st, tok)
	if err := t.faults(); err != nil {
		return nil, err
	}
	return t, nil
}

// layOut checks the prompts and lays out the batch: every prompt left-padded to the longest,
// then C masks. It returns the trajectories' prompt part, the tokens and the key mask.
func layOut(mc model.Config, prompts []Prompt, cfg Config) (t *Trajectories, tok, keyMask []int32, err error) {
	if len(prompts) == 0 {
		return nil, nil, nil, fmt.Errorf("sampler: no prompts")
	}
	nb, c, v := len(prompts), cfg.GenLength, mc.VocabSize
	p := 0
	for r, pr := range prompts {
		if pr.Mask != nil && len(pr.Mask) != len(pr.Tokens) {
			return nil, nil, nil, fmt.Errorf("sampler: prompt %d has %d tokens but a mask of %d", r, len(pr.Tokens), len(pr.Mask))
		}
		p = max(p, len(pr.Tokens))
	}
	seq := p + c
	if seq > mc.MaxSeqLen {
		return nil, nil, nil, fmt.Errorf("sampler: prompt %d + completion %d tokens exceed the model's max_sequence_length %d", p, c, mc.MaxSeqLen)
	}
	t = &Trajectories{B: nb, P: p, C: c, V: v, Config: cfg, MaskID: int32(mc.MaskID), EOSID: int32(mc.EOSID),
		Prompt: make([]int32, nb*p), PromptMask: make([]int32, nb*p)}
	tok, keyMask = make([]int32, nb*seq), make([]int32, nb*seq)
	for r, pr := range prompts {
		pad := p - len(pr.Tokens)
		for i := 0; i < seq; i++ {
			switch {
			case i < pad:
				tok[r*seq+i] = int32(mc.PadID)
			case i < p:
				id := pr.Tokens[i-pad]
				if id < 0 || int(id) >= v || id == int32(mc.MaskID) {
					return nil, nil, nil, fmt.Errorf("sampler: prompt %d has token id %d at %d (outside the vocabulary or the mask id)", r, id, i-pad)
				}
				tok[r*seq+i], keyMask[r*seq+i] = id, 1
				if pr.Mask != nil {
					keyMask[r*seq+i] = pr.Mask[i-pad]
				}
			default:
				tok[r*seq+i], keyMask[r*seq+i] = int32(mc.MaskID), 1
			}
			if i < p {
				t.Prompt[r*p+i], t.PromptMask[r*p+i] = tok[r*seq+i], keyMask[r*seq+i]
			}
		}
	}
	return t, tok, keyMask, nil
}

// denoise runs the schedule on the device state st: per block, its steps of forward pass and
// unmasking, after the first block stopping rows that have finished. It sets StepsRun and
// RowSteps; tok is scratch for onStep.
func (t *Trajectories) denoise(m *model.Model, st core.UnmaskState, keyMask *core.Tensor, active, tok []int32, onStep StepFunc) {
	b, cfg, p := m.B, t.Config, t.P
	var logp, dense []float32
	var revealStep []int32
	if st.Support != nil {
		dense, revealStep = make([]float32, st.Support.Len()), make([]int32, t.B*t.C)
	}
	if onStep != nil {
		logp = make([]float32, t.B*t.C)
		onStep(-1, tok, logp)
	}
	blocks := t.C / cfg.BlockLength
	perBlock := cfg.Steps / blocks
	schedule := NumTransfer(cfg.BlockLength, perBlock)
	step := 0
	// The logits are read at the current block's positions only, so the model computes the
	// last block and the final norm there only (model.HiddenRows): the block's positions of
	// every row, in row order.
	rows := b.Alloc(core.I32, t.B*cfg.BlockLength)
	defer b.Free(rows)
	ids := make([]int32, t.B*cfg.BlockLength)
	stoppedAt := make([]int, t.B) // the step at which a row stopped, −1 while it runs
	for i := range stoppedAt {
		stoppedAt[i] = -1
	}
	for blk := 0; blk < blocks; blk++ {
		if blk > 0 {
			left := stopFinishedRows(b, st, t, active, blk, step, p, p+t.C)
			for r, a := range active {
				if a == 0 && stoppedAt[r] < 0 {
					stoppedAt[r] = step
				}
			}
			if left == 0 {
				break
			}
		}
		for r := 0; r < t.B; r++ {
			for j := 0; j < cfg.BlockLength; j++ {
				ids[r*cfg.BlockLength+j] = int32(r*(p+t.C) + p + blk*cfg.BlockLength + j)
			}
		}
		b.UploadInt(rows, ids)
		for i := 0; i < perBlock; i++ {
			m.HiddenRows(st.Tokens, keyMask, rows)
			// The head and the draw run over chunks of rows, so that the logits take at most a
			// chunk's memory (and a Vulkan binding stays under the device's range limit); a chunk
			// holds at least one sequence.
			rowsPer := m.MaxChunk() / (t.P + t.C)
			for lo := 0; lo < t.B; lo += rowsPer {
				hi := min(lo+rowsPer, t.B)
				b.UnmaskStep(st.Rows(lo, hi), m.SeqLogits(lo, hi), core.UnmaskParams{
					PromptLen: p, BlockStart: blk * cfg.BlockLength, BlockEnd: (blk + 1) * cfg.BlockLength,
					Reveal: schedule[i], Step: step, Temperature: cfg.Temperature, TopK: cfg.TopK, TopP: cfg.TopP,
					Remasking: cfg.Remasking, Confidence: cfg.Confidence, Seed: cfg.Seed, MaskID: t.MaskID, RowOffset: cfg.RowOffset + lo,
				})
			}
			if st.Support != nil {
				b.Download(st.Support, dense)
				b.DownloadInt(st.RevealStep, revealStep)
				t.recordDraws(step, dense, revealStep)
			}
			step++
			if onStep != nil {
				b.DownloadInt(st.Tokens, tok)
				b.Download(st.LogP, logp)
				onStep(step-1, tok, logp)
			}
		}
	}
	t.StepsRun = step
	t.RowSteps = make([]int, t.B)
	for r := range t.RowSteps {
		t.RowSteps[r] = step
		if stoppedAt[r] >= 0 {
			t.RowSteps[r] = stoppedAt[r]
		}
	}
}

// readBack downloads the sampled completions and their records into t; tok is scratch.
func (t *Trajectories) readBack(b core.Backend, st core.UnmaskState, tok []int32) {
	nb, c, p, seq := t.B, t.C, t.P, t.P+t.C
	b.DownloadInt(st.Tokens, tok)
	t.Tokens = make([]int32, nb*c)
	for r := 0; r < nb; r++ {
		copy(t.Tokens[r*c:(r+1)*c], tok[r*seq+p:(r+1)*seq])
	}
	t.RevealStep = make([]int32, nb*c)
	t.LogP, t.Entropy = make([]float32, nb*c), make([]float32, nb*c)
	b.DownloadInt(st.RevealStep, t.RevealStep)
	b.Download(st.LogP, t.LogP)
	b.Download(st.Entropy, t.Entropy)
}

// ErrNonFinite marks logits that are not finite (a model with NaN or Inf weights, or one that
// overflows): Generate's error wraps it.
var ErrNonFinite = errors.New("the model's logits are not finite (NaN or ±Inf)")

// faults reports the positions UnmaskStep marked as drawn from logits that are not finite (NaN
// log-probability; see core.UnmaskParams): the earliest step, its row, and how many rows.
func (t *Trajectories) faults() error {
	row, step, rows := -1, int32(0), 0
	for r := 0; r < t.B; r++ {
		first := int32(-1)
		for j := r * t.C; j < (r+1)*t.C; j++ {
			if math.IsNaN(float64(t.LogP[j])) && (first < 0 || t.RevealStep[j] < first) {
				first = t.RevealStep[j]
			}
		}
		if first < 0 {
			continue
		}
		rows++
		if row < 0 || first < step {
			row, step = r, first
		}
	}
	if row < 0 {
		return nil
	}
	return fmt.Errorf("sampler: %w at sampling step %d of %d in row %d (%d of %d rows affected)", ErrNonFinite, step+1, t.Config.Steps, row, rows, t.B)
}

// stopFinishedRows ends the rows whose previous block came out all EOS, as AGRPO's sampler
// does: their remaining completion is filled with EOS, recorded as revealed at this step with
// no sampled probability (the fill is deterministic, not a policy action). It returns the
// number of rows still active.
func stopFinishedRows(b core.Backend, st core.UnmaskState, t *Trajectories, active []int32, blk, step, p, seq int) int {
	nb, c, bl := t.B, t.C, t.Config.BlockLength
	tok := make([]int32, nb*seq)
	steps := make([]int32, nb*c)
	b.DownloadInt(st.Tokens, tok)
	b.DownloadInt(st.RevealStep, steps)
	changed, left := false, 0
	for r := 0; r < nb; r++ {
		if active[r] == 0 {
			continue
		}
		done := true
		for j := (blk - 1) * bl; j < blk*bl; j++ {
			if tok[r*seq+p+j] != t.EOSID {
				done = false
				break
			}
		}
		if !done {
			left++
			continue
		}
		active[r], changed = 0, true
		for j := blk * bl; j < c; j++ {
			tok[r*seq+p+j] = t.EOSID
			steps[r*c+j] = int32(step)
		}
	}
	if changed {
		// LogP and Entropy of the filled positions are still 0 from allocation.
		b.UploadInt(st.Tokens, tok)
		b.UploadInt(st.RevealStep, steps)
		b.UploadInt(st.Active, active)
	}
	return left
}
