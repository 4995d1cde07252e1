package rl

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/atomicfile"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/core/sft"
	"github.com/dllmrl/agrpo/rl/dist"
	"github.com/dllmrl/agrpo/rl/task"
)

// ErrInterrupted is returned by Run when its context is cancelled: the run was checkpointed
// at its last completed step and can be resumed.
var ErrInterrupted = errors.New("interrupted")

// Files of a run folder.
const (
	ConfigFile     = "config.toml"
	CheckpointFile = "checkpoint.safetensors" // model + optimizer + trainer state, for resuming
	ModelFile      = "model.safetensors"      // the final model alone, for eval and sharing
	MetricsFile    = "metrics.jsonl"
	EvalFile       = "eval.json"
)

// Trainer runs a training method — masked-diffusion SFT, AGRPO or diffu-GRPO — on a task, with
// checkpoints, metrics, evaluation and exact resume: the random stream, the optimizer and the
// step are all in the checkpoint, so a resumed run on the CPU backend continues bit for bit as
// if it had never stopped.
//
// In a data-parallel job (NewJobRun, ResumeJob) every rank holds the same parameters, optimizer
// and random stream; each samples and trains its share of the step's prompts or examples, the
// gradients are summed over the ranks, and every rank takes the same step (job.go). Rank 0
// alone writes the run folder.
type Trainer struct {
	Cfg   Config
	Dir   string
	Task  task.Task
	Model *model.Model
	// Enc makes the model's tokens: model.init's own tokenizer (a Hugging Face folder's), or the
	// tasks' character vocabulary.
	Enc  task.Encoder
	Opt  *AdamW
	Step int       // completed optimizer steps
	Out  io.Writer // messages: notes and evaluation summaries
	// OnStep, if set, is called after every completed step (live displays, tests).
	OnStep func(StepInfo)

	src     *rand.PCG
	rng     *rand.Rand
	metrics *Metrics
	wall    float64 // training seconds spent before this process started
	bufs    sft.Buffers
	norm    *core.Tensor
	rl      *rlState // the estimator and reference model of an RL method
	saved   int      // the step of the checkpoint on disk, −1 before the first
	job     dist.Comm
	gradBuf []float32 // the gradients as one vector, for the sum over the ranks
	reduceS float64   // seconds of the current step spent summing gradients over the ranks
}

// NewRun creates the run folder cfg.Run.OutDir/cfg.Run.Name, writes the config into it and
// builds the model: fresh for cfg.Model, or loaded from cfg.Model.Init, a path or a name in
// named (LoadModel). Everything is checked before the folder is created, so a refused config
// leaves nothing behind.
func NewRun(cfg Config, named Catalog, b core.Backend, out io.Writer) (*Trainer, error) {
	return NewJobRun(dist.Single{}, cfg, named, b, out)
}

// NewJobRun is NewRun on every rank of a data-parallel job: rank 0 creates the run folder, and
// the ranks check that they hold the same config and model and take rank 0's parameters.
func NewJobRun(job dist.Comm, cfg Config, named Catalog, b core.Backend, out io.Writer) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkShares(cfg, job.Size()); err != nil {
		return nil, err
	}
	t, err := task.ByName(cfg.Task.Name)
	if err != nil {
		return nil, fmt.Errorf("task.name: %w", err)
	}
	dir := filepath.Join(cfg.Run.OutDir, cfg.Run.Name)
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		return nil, fmt.Errorf("run folder %s already holds a run: resume it with -resume %s, or set another run.name", dir, dir)
	}
	var m *model.Model
	enc := task.CharEncoder
	if cfg.Model.Init != "" {
		w := Float32
		if cfg.Model.LoRA.R > 0 {
			w = AsStored // a frozen base may stay 16-bit
		}
		ck, err := LoadModelAs(cfg.Model.Init, named, b, w)
		if err != nil {
			return nil, fmt.Errorf("model.init: %w", err)
		}
		if err := CheckTask(ck, cfg.Model.Init, t, cfg.Model.AnyTask); err != nil {
			return nil, fmt.Errorf("model.init: %w", err)
		}
		if note := DataNote(cfg.Model.Init, ck.Checkpoint); note != "" {
			fmt.Fprintln(out, note)
		}
		if err := checkMemory(PlanMemory(cfg, ck.Config, t, HeldWeights(ck.Params, ck.Config)), b); err != nil {
			return nil, err
		}
		m, enc = model.New(b, ck.Config, ck.Params), ck.Encoder
		if cfg.Model.LoRA.R > 0 {
			if err := m.AttachLoRA(cfg.Model.LoRA, cfg.Run.Seed); err != nil {
				return nil, fmt.Errorf("model.lora.%w", err)
			}
		}
	} else {
		mc := ModelConfigFor(cfg.Model, t)
		if err := mc.Validate(); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := task.CheckModel(TaskLimits(mc), enc, t); err != nil { // a chat task needs a model's own tokenizer
			return nil, fmt.Errorf("model: %w", err)
		}
		if err := checkMemory(PlanMemory(cfg, mc, t, Float32Weights(mc)), b); err != nil {
			return nil, err
		}
		p := model.NewParams(b, mc)
		p.Init(b, mc, cfg.Run.Seed)
		m = model.New(b, mc, p)
	}
	tr := &Trainer{Cfg: cfg, Dir: dir, Task: t, Model: m, Enc: enc, Opt: NewAdamW(m), Out: out, saved: -1, job: job}
	tr.src = rand.NewPCG(cfg.Run.Seed, 0x5f7)
	tr.rng = rand.New(tr.src)
	if tr.rl, err = newRLState(cfg, named, m); err != nil {
		return nil, err
	}
	if err := tr.checkSampling(); err != nil {
		return nil, err
	}
	if err := tr.join(); err != nil {
		return nil, err
	}
	if !tr.lead() {
		return tr, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	// The metrics take the folder's lock: before the config is written, so that a second
	// trainer on this folder is refused before it changes anything.
	if tr.metrics, err = OpenMetrics(filepath.Join(dir, MetricsFile), 0, false); err != nil {
		return nil, err
	}
	raw, err := EncodeConfig(cfg)
	if err == nil {
		err = atomicfile.Write(filepath.Join(dir, ConfigFile), func(w io.Writer) error { _, err := w.Write(raw); return err })
	}
	if err != nil {
		tr.metrics.Close()
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	return tr, nil
}

// checkSampling refuses rollout and evaluation settings the sampler cannot honour for this task
// and model, before any work: otherwise they would fail at the first rollout or evaluation.
func (t *Trainer) checkSampling() error {
	if t.rl != nil {
		if err := checkRollouts(t.Cfg.RL.Rollout, t.Task); err != nil {
			return err
		}
	}
	if err := t.evalOptions().Check(t.Task); err != nil {
		return fmt.Errorf("eval.steps, eval.block_length: %w", err)
	}
	return nil
}

// ModelConfigFor is the architecture of mc on the shared character vocabulary, long enough
// for the task's prompt and answer.
func ModelConfigFor(mc ModelConfig, t task.Task) model.Config {
	return model.Config{VocabSize: task.VocabSize, DModel: mc.DModel, Layers: mc.Layers, Heads: mc.Heads, KVHeads: mc.KVHeads,
		MLPHidden: mc.MLPHidden, MaxSeqLen: t.PromptLen() + t.AnswerLen(), RopeTheta: mc.RopeTheta,
		NormEps: mc.NormEps, MaskID: task.Mask, EOSID: task.EOS, PadID: task.EOS}
}

// Resume reopens a run folder at its checkpoint. named resolves its model.init when that is a
// name, for the KL reference of rl.beta > 0.
func Resume(dir string, named Catalog, b core.Backend, out io.Writer) (*Trainer, error) {
	return ResumeJob(dist.Single{}, dir, named, b, out)
}

// ResumeJob is Resume on every rank of a data-parallel job, which may have another number of
// ranks than the job that wrote the checkpoint: the checkpoint holds no per-rank state.
func ResumeJob(job dist.Comm, dir string, named Catalog, b core.Backend, out io.Writer) (*Trainer, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := checkShares(cfg, job.Size()); err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	t, err := task.ByName(cfg.Task.Name)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	path := filepath.Join(dir, CheckpointFile)
	raw, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	f, err := safetensors.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("resume: checkpoint %s: %w", path, err)
	}
	var m *model.Model
	var ck *model.Checkpoint
	if cfg.Model.LoRA.R > 0 {
		m, ck, err = resumeLoRA(cfg, named, path, f, b)
	} else if ck, err = model.FromFile(path, f, b); err == nil {
		m = model.New(b, ck.Config, ck.Params)
	}
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	if note := DataNote(path, ck); note != "" {
		fmt.Fprintln(out, note)
	}
	step, err := strconv.Atoi(ck.Metadata["step"])
	if err != nil {
		return nil, fmt.Errorf("resume: checkpoint %s: bad step %q", path, ck.Metadata["step"])
	}
	// The run's model has the tokens of the model it started from.
	enc, err := ModelEncoder(cfg.Model.Init, ck.Config)
	if err != nil {
		return nil, fmt.Errorf("resume: model.init: %w", err)
	}
	tr := &Trainer{Cfg: cfg, Dir: dir, Task: t, Model: m, Enc: enc, Opt: NewAdamW(m), Out: out, Step: step, saved: step, job: job}
	optStep, err := strconv.Atoi(ck.Metadata["optim_step"])
	if err != nil {
		return nil, fmt.Errorf("resume: checkpoint %s: bad optim_step %q", path, ck.Metadata["optim_step"])
	}
	if err := tr.Opt.Restore(tr.Model, path, f, optStep); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	tr.src = &rand.PCG{}
	state, err := hex.DecodeString(ck.Metadata["rng"])
	if err == nil {
		err = tr.src.UnmarshalBinary(state)
	}
	if err != nil {
		return nil, fmt.Errorf("resume: checkpoint %s: bad random state: %v", path, err)
	}
	tr.rng = rand.New(tr.src)
	tr.wall, _ = strconv.ParseFloat(ck.Metadata["wall_s"], 64)
	if cfg.Train.Method != SFT && cfg.RL.Beta > 0 {
		// The KL reference is the run's starting point, reloaded from model.init.
		if cfg.Model.Init == "" {
			return nil, fmt.Errorf("resume %s: rl.beta > 0 needs model.init as the reference", dir)
		}
	}
	if tr.rl, err = newRLState(cfg, named, tr.Model); err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := tr.join(); err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if !tr.lead() {
		return tr, nil
	}
	redone := step == 0 || step >= cfg.Train.Steps // Run evaluates these steps again
	if tr.metrics, err = OpenMetrics(filepath.Join(dir, MetricsFile), step, !redone); err != nil {
		return nil, err
	}
	return tr, nil
}

// StepInfo is what Trainer.OnStep is told after each step: enough for a progress display,
// which is the caller's (the trainer prints nothing per step).
type StepInfo struct {
	Step, Steps  int // the step just done, of Steps
	Loss         float64
	GradNorm, LR float64
	Tokens       int                // tokens processed by the step
	Seconds      float64            // the step's wall time
	Metrics      map[string]float64 // the method's metrics (for RL: reward, accuracy, kl, …)
	Summary      string             // a few of them as text ("reward 3.2 acc 0.41")
	Logged       bool               // the step was written to metrics.jsonl (train.log_every)
}

// stepResult is what one training step reports.
type stepResult struct {
	Loss, GradNorm, LR float64
	Tokens             int                // tokens processed (for tokens/s)
	Metrics            map[string]float64 // method-specific, logged as they are
	Summary            string             // a few numbers for the progress line
}

// Run trains until cfg.Train.Steps, evaluating and checkpointing on schedule. On cancellation
// it checkpoints and returns ErrInterrupted; on a non-finite loss, gradient norm, parameter or
// logit (sampler.ErrNonFinite) it stops with the last good checkpoint kept.
func (t *Trainer) Run(ctx context.Context) error {
	if t.lead() {
		defer t.metrics.Close()
	}
	start := time.Now()
	if t.rl != nil && t.Step == 0 && t.Cfg.Train.EvalEvery > 0 {
		// The starting point of an RL run, so its curves and table begin at the base model.
		if _, err := t.evaluate(); err != nil {
			return t.stop(t.Step, err)
		}
	}
	for t.Step < t.Cfg.Train.Steps {
		stop, err := t.anyRank(ctx.Err() != nil)
		if err != nil {
			return err
		}
		if stop {
			if err := t.SaveCheckpoint(start); err != nil {
				return err
			}
			return ErrInterrupted
		}
		if err := t.trainStep(start); err != nil {
			return err
		}
		if err := t.scheduled(start); err != nil {
			return err
		}
	}
	return t.finish(start)
}

// trainStep takes one optimizer step of the method and reports it: to metrics.jsonl on the steps
// train.log_every picks, and to OnStep. runStart is when Run began.
func (t *Trainer) trainStep(runStart time.Time) error {
	stepStart := time.Now()
	t.reduceS = 0
	var st stepResult
	var err error
	if t.rl != nil {
		st, err = t.rlStep()
	} else {
		st, err = t.sftStep()
	}
	if err != nil {
		return t.stop(t.Step+1, err)
	}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		return t.diverged(t.Step+1, fmt.Errorf("loss %v, gradient norm %v", st.Loss, st.GradNorm))
	}
	t.Step++
	tc := t.Cfg.Train
	logged := t.lead() && (t.Step%tc.LogEvery == 0 || t.Step == tc.Steps)
	if logged {
		if err := t.logStep(st, runStart, stepStart); err != nil {
			return err
		}
	}
	if t.OnStep != nil {
		t.OnStep(StepInfo{Step: t.Step, Steps: tc.Steps, Loss: st.Loss, GradNorm: st.GradNorm, LR: st.LR, Tokens: st.Tokens,
			Seconds: time.Since(stepStart).Seconds(), Metrics: st.Metrics, Summary: st.Summary, Logged: logged})
	}
	return nil
}

// logStep writes the line of metrics.jsonl of the step just taken, which began at stepStart.
func (t *Trainer) logStep(st stepResult, runStart, stepStart time.Time) error {
	elapsed := time.Since(runStart).Seconds()
	rec := map[string]any{"step": t.Step, "loss": st.Loss, "grad_norm": st.GradNorm, "learning_rate": st.LR,
		"tokens_per_s": float64(st.Tokens) / time.Since(stepStart).Seconds(), "wall_s": t.wall + elapsed}
	for k, v := range st.Metrics {
		rec[k] = v
	}
	if t.job.Size() > 1 {
		rec["ranks"], rec["allreduce_s"] = t.job.Size(), t.reduceS
	}
	return t.metrics.Write(rec)
}

// scheduled evaluates and checkpoints after a step when train.eval_every and
// train.checkpoint_every ask for it; the last step's are finish's.
func (t *Trainer) scheduled(runStart time.Time) error {
	tc := t.Cfg.Train
	if t.Step >= tc.Steps {
		return nil
	}
	if tc.EvalEvery > 0 && t.Step%tc.EvalEvery == 0 {
		if _, err := t.evaluate(); err != nil {
			return t.stop(t.Step, err)
		}
	}
	if tc.CheckpointEvery > 0 && t.Step%tc.CheckpointEvery == 0 {
		return t.SaveCheckpoint(runStart)
	}
	return nil
}

// finish ends a completed run: the last checkpoint, then on rank 0 the model file, the final
// evaluation (every rank evaluates its share) and eval.json.
func (t *Trainer) finish(runStart time.Time) error {
	if err := t.SaveCheckpoint(runStart); err != nil {
		return err
	}
	if !t.lead() {
		_, err := t.evaluate() // its share of the final evaluation
		return t.stop(t.Step, err)
	}
	final, free := finalParams(t.Model)
	err := model.Save(filepath.Join(t.Dir, ModelFile), t.Model.B, t.Model.Cfg, final,
		map[string]string{"task": t.Task.Name(), "step": strconv.Itoa(t.Step)})
	free()
	if err == nil && t.Model.LoRA != nil { // and the adapters alone, as PEFT saves them
		err = model.SaveAdapter(t.Dir, t.Model, t.Cfg.Model.Init)
	}
	if err != nil {
		return err
	}
	res, err := t.evaluate()
	if err != nil || res == nil {
		return t.stop(t.Step, err)
	}
	return atomicfile.Write(filepath.Join(t.Dir, EvalFile), func(w io.Writer) error {
		return writeJSON(w, map[string]any{"task": t.Task.Name(), "step": t.Step, "results": res})
	})
}

// stop passes err on, as a divergence at step when the sampler met logits that are not finite.
func (t *Trainer) stop(step int, err error) error {
	if errors.Is(err, sampler.ErrNonFinite) {
		return t.diverged(step, err)
	}
	return err
}

// diverged is the error that ends a run whose numbers stopped being finite at step, naming the
// first parameter that is not finite and the checkpoint kept.
func (t *Trainer) diverged(step int, why error) error {
	if name := t.nonFiniteParam(); name != "" {
		why = fmt.Errorf("%w (first non-finite parameter: %s)", why, name)
	}
	kept := "no checkpoint had been written yet"
	if t.saved >= 0 {
		kept = fmt.Sprintf("the last good checkpoint (step %d) is kept in %s", t.saved, filepath.Join(t.Dir, CheckpointFile))
	}
	return fmt.Errorf("step %d: %w: stopped; %s", step, why, kept)
}

// nonFiniteParam is the name of the first trained tensor holding a NaN or an Inf, "" if none.
func (t *Trainer) nonFiniteParam() string {
	m := t.Model
	for _, n := range m.Trainables() {
		v := make([]float32, n.Param.Len())
		m.B.Download(n.Param, v)
		if slices.ContainsFunc(v, func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }) {
			return n.Name
		}
	}
	return ""
}

// sftStep draws a batch of train problems, noises it and takes one optimizer step.
func (t *Trainer) sftStep() (stepResult, error) {
	tc := t.Cfg.Train
	batch := make([]sft.Example, tc.BatchSize)
	for i := range batch {
		p := t.Task.SampleTrain(t.rng)
		ids, mask, err := t.Enc.Prompt(t.Task, p)
		if err != nil {
			return stepResult{}, err
		}
		ans, err := t.Enc.Answer(t.Task, p.Answer)
		if err != nil {
			return stepResult{}, err
		}
		batch[i] = sft.Example{Prompt: ids, PromptMask: mask, Answer: ans}
	}
	noised, err := sft.Noise(batch, int32(t.Model.Cfg.MaskID), t.rng)
	if err != nil {
		return stepResult{}, err
	}
	m := t.Model
	t.zeroGrads()
	// Every rank draws the whole batch, so the random stream moves as on one process, and trains
	// its share of the rows; their weights are the whole batch's, so the losses and gradients sum.
	lo, hi := dist.Share(noised.B, t.job.Rank(), t.job.Size())
	loss := sft.Step(m, noised.Rows(lo, hi), &t.bufs)
	if loss, err = t.sumLoss(loss); err != nil {
		return stepResult{}, err
	}
	lr := LearningRate(tc, t.Step+1)
	norm := 0.0
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		if norm, err = t.update(lr); err != nil {
			return stepResult{}, err
		}
	}
	return stepResult{Loss: loss, GradNorm: norm, LR: lr, Tokens: noised.B * noised.S,
		Metrics: map[string]float64{"masked_frac": float64(noised.MaskedTokens) / float64(noised.AnswerTotal)},
		Summary: fmt.Sprintf("loss %.4f", loss)}, nil
}

// zeroGrads allocates (once) and clears the gradient buffers.
func (t *Trainer) zeroGrads() {
	t.Model.AllocGrads()
	t.Model.ZeroGrads()
}

// update sums the accumulated gradients over the job's ranks, clips them and takes one AdamW
// step at lr; it returns the gradient norm before clipping.
func (t *Trainer) update(lr float64) (float64, error) {
	tc, m := t.Cfg.Train, t.Model
	if err := t.sumGrads(); err != nil {
		return 0, err
	}
	if t.norm == nil {
		t.norm = m.B.Alloc(core.F32, 1)
	}
	h := core.AdamHyper{LR: float32(lr), Beta1: float32(tc.Beta1), Beta2: float32(tc.Beta2), Eps: float32(tc.AdamEps), WeightDecay: float32(tc.WeightDecay)}
	return t.Opt.Update(m, h, float32(tc.GradClip), t.norm), nil
}

// evaluate runs the configured evaluation on the test split, logs it and prints a summary.
func (t *Trainer) evaluate() ([]EvalResult, error) {
	ec := t.Cfg.Eval
	if len(ec.Steps) == 0 {
		return nil, nil
	}
	problems := t.Task.Test()
	if ec.N > 0 && ec.N < len(problems) {
		problems = problems[:ec.N]
	}
	o := t.evalOptions()
	o.Job = t.job
	res, _, err := Evaluate(t.Model, t.Task, problems, o)
	if err != nil {
		return nil, err
	}
	if !t.lead() {
		return res, nil
	}
	if err := t.metrics.Write(map[string]any{"step": t.Step, "eval": res}); err != nil {
		return nil, err
	}
	fmt.Fprintf(t.Out, "\neval at step %d (%d test problems):", t.Step, len(problems))
	for _, r := range res {
		fmt.Fprintf(t.Out, "  %d steps: acc %.1f%% reward %.3f", r.Steps, 100*r.Accuracy, r.MeanReward)
	}
	fmt.Fprintln(t.Out)
	return res, nil
}

// evalOptions are the config's evaluation settings.
func (t *Trainer) evalOptions() EvalOptions {
	ec := t.Cfg.Eval
	return EvalOptions{Steps: ec.Steps, BlockLength: ec.BlockLength, Remasking: ec.Remasking, Temperature: float32(ec.Temperature), BatchSize: ec.BatchSize,
		Encoder: t.Enc}
}

// SaveCheckpoint writes model, optimizer, step, random state and wall time atomically. It
// refuses parameters that are not finite, so the checkpoint on disk is always a good one. In a
// job, rank 0 writes it and the other ranks only note its step (rank 0 failing to write ends
// the job).
func (t *Trainer) SaveCheckpoint(runStart time.Time) error {
	if !t.lead() {
		t.saved = t.Step
		return nil
	}
	if t.nonFiniteParam() != "" {
		return t.diverged(t.Step, errors.New("the parameters are not finite"))
	}
	m := t.Model
	tensors := encodeTrainables(m)
	for k, v := range t.Opt.State(m) {
		tensors[k] = v
	}
	state, err := t.src.MarshalBinary()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	meta := map[string]string{"step": strconv.Itoa(t.Step), "optim_step": strconv.Itoa(t.Opt.Step),
		"rng": hex.EncodeToString(state), "task": t.Task.Name(),
		"wall_s": strconv.FormatFloat(t.wall+time.Since(runStart).Seconds(), 'f', 3, 64)}
	if err := model.SaveTensors(filepath.Join(t.Dir, CheckpointFile), m.Cfg, tensors, meta); err != nil {
		return err
	}
	t.saved = t.Step
	return nil
}
