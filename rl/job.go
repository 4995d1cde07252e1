package rl

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/pg"
)

// A data-parallel job, as the trainer runs it. Every rank keeps the same parameters, optimizer
// state and random stream, and draws every random number of a step — the prompts or examples,
// the rollouts' seed, the estimator's draws — for the whole batch, in the order one process
// would, so that the stream stays in step. The rows a rank samples and trains are keyed by
// their place in the whole batch (sampler.Config.RowOffset, pg.Shard), the gradients and losses
// are summed over the ranks, and the rows' outcomes (rewards, correctness) are gathered, so
// that a job on N ranks is the one-process run up to the order of float sums. These helpers do
// nothing on one process, which therefore runs exactly as without them.

// lead reports whether this rank writes the run folder and prints (rank 0).
func (t *Trainer) lead() bool { return t.job.Rank() == 0 }

// checkShares refuses a job with more ranks than a step has prompts (RL) or examples (SFT):
// some rank would have nothing to train on.
func checkShares(cfg Config, ranks int) error {
	if ranks <= 1 {
		return nil
	}
	if cfg.Train.Method == SFT {
		if cfg.Train.BatchSize < ranks {
			return fmt.Errorf("train.batch_size = %d is less than the job's %d ranks: each rank needs an example", cfg.Train.BatchSize, ranks)
		}
	} else if cfg.RL.Prompts < ranks {
		return fmt.Errorf("rl.prompts_per_step = %d is less than the job's %d ranks: each rank needs a prompt", cfg.RL.Prompts, ranks)
	}
	return nil
}

// join checks that every rank of the job holds the same config and model — step, parameters,
// optimizer state, random stream, compared by their SHA-256 — naming the ranks that differ
// from rank 0, and then gives every rank rank 0's parameters.
func (t *Trainer) join() error {
	if t.job.Size() <= 1 {
		return nil
	}
	raw, err := EncodeConfig(t.Cfg)
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	cfgSum := sha256.Sum256(raw)
	h := sha256.New()
	state, err := t.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("random state: %w", err)
	}
	fmt.Fprintf(h, "%+v step %d optim %d rng %x\n", t.Model.Cfg, t.Step, t.Opt.Step, state)
	params := t.paramBytes()
	h.Write(params)
	opt := t.Opt.State(t.Model)
	for _, k := range slices.Sorted(maps.Keys(opt)) {
		h.Write(opt[k].Data)
	}
	var modelSum [sha256.Size]byte
	h.Sum(modelSum[:0])
	// Rank 0's sums to everyone, then a flag per rank and kind that differs, summed to all.
	sums := append(cfgSum[:], modelSum[:]...)
	if err := t.job.Broadcast(sums, 0); err != nil {
		return err
	}
	n := t.job.Size()
	differ := make([]float64, 2*n)
	if !bytes.Equal(sums[:sha256.Size], cfgSum[:]) {
		differ[t.job.Rank()] = 1
	}
	if !bytes.Equal(sums[sha256.Size:], modelSum[:]) {
		differ[n+t.job.Rank()] = 1
	}
	if err := t.job.SumFloat64(differ); err != nil {
		return err
	}
	var msgs []string
	for k, what := range []string{"config", "model (its parameters, optimizer state, step or random state)"} {
		var ranks []string
		for r := range n {
			if differ[k*n+r] != 0 {
				ranks = append(ranks, fmt.Sprint(r))
			}
		}
		if len(ranks) > 0 {
			msgs = append(msgs, fmt.Sprintf("rank %s has another %s than rank 0", strings.Join(ranks, ", "), what))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("the ranks of this job do not start from the same run: %s (SHA-256 compared; give every rank the same config and model files)", strings.Join(msgs, "; "))
	}
	// The sums agree, so this changes no value; it makes rank 0's parameters everyone's by
	// construction rather than by the check alone.
	if err := t.job.Broadcast(params, 0); err != nil {
		return err
	}
	t.setParams(params)
	return nil
}

// paramBytes is the trainable tensors as little-endian float32s, in Trainables order.
func (t *Trainer) paramBytes() []byte {
	m := t.Model
	var out []byte
	for _, tr := range m.Trainables() {
		v := make([]float32, tr.Param.Len())
		m.B.Download(tr.Param, v)
		for _, f := range v {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(f))
		}
	}
	return out
}

// setParams uploads parameters encoded by paramBytes.
func (t *Trainer) setParams(raw []byte) {
	m := t.Model
	for _, tr := range m.Trainables() {
		x := tr.Param
		v := make([]float32, x.Len())
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		raw = raw[4*len(v):]
		m.B.Upload(x, v)
	}
}

// anyRank reports whether flag is set on any rank (an interrupt seen by one stops all at the
// same step, so that none waits for the others in a sum).
func (t *Trainer) anyRank(flag bool) (bool, error) {
	if t.job.Size() <= 1 {
		return flag, nil
	}
	x := 0.0
	if flag {
		x = 1
	}
	err := t.sum(&x)
	return x > 0, err
}

// sum replaces each of xs by its sum over the ranks.
func (t *Trainer) sum(xs ...*float64) error {
	if t.job.Size() <= 1 {
		return nil
	}
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = *x
	}
	if err := t.job.SumFloat64(v); err != nil {
		return err
	}
	for i, x := range xs {
		*x = v[i]
	}
	return nil
}

// gather completes x, of which each rank filled its own rows and left the others 0, with the
// other ranks' rows: a sum in which every element has one nonzero term is exact.
func (t *Trainer) gather(x []float64) error {
	if t.job.Size() <= 1 {
		return nil
	}
	return t.job.SumFloat64(x)
}

// sumLoss is the sum of the ranks' losses, each already normalised by the whole batch.
func (t *Trainer) sumLoss(loss float64) (float64, error) {
	err := t.sum(&loss)
	return loss, err
}

// sumStats combines the ranks' statistics of one update: losses and token counts add, the
// per-token means are weighted by their ranks' token counts.
func (t *Trainer) sumStats(s pg.Stats) (pg.Stats, error) {
	if t.job.Size() <= 1 {
		return s, nil
	}
	n := float64(s.Tokens)
	v := []float64{s.Loss, n}
	for _, m := range s.Means {
		v = append(v, m.Value*n)
	}
	if err := t.job.SumFloat64(v); err != nil {
		return s, err
	}
	out := pg.Stats{Loss: v[0], Tokens: int(v[1]), Means: make([]pg.Metric, len(s.Means))}
	for i, m := range s.Means {
		out.Means[i].Name = m.Name
		if v[1] > 0 {
			out.Means[i].Value = v[2+i] / v[1]
		}
	}
	return out, nil
}

// sumGrads replaces the accumulated gradients by their sum over the ranks (MPI_Allreduce of
// one vector), timing it into t.reduceS.
func (t *Trainer) sumGrads() error {
	if t.job.Size() <= 1 {
		return nil
	}
	start := time.Now()
	m := t.Model
	var grads []*core.Tensor
	n := 0
	for _, tr := range m.Trainables() {
		grads = append(grads, tr.Grad)
		n += tr.Grad.Len()
	}
	if t.gradBuf == nil {
		t.gradBuf = make([]float32, n)
	}
	off := 0
	for _, g := range grads {
		m.B.Download(g, t.gradBuf[off:off+g.Len()])
		off += g.Len()
	}
	if err := t.job.SumFloat32(t.gradBuf); err != nil {
		return fmt.Errorf("summing gradients over the ranks: %w", err)
	}
	off = 0
	for _, g := range grads {
		m.B.Upload(g, t.gradBuf[off:off+g.Len()])
		off += g.Len()
	}
	t.reduceS += time.Since(start).Seconds()
	return nil
}
