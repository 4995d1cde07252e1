// Package rl is the training side: run configs, the trainers (masked-diffusion SFT, and the RL
// estimators built on core), learning-rate schedules, checkpoints with exact resume, metrics and
// evaluation on the tasks of package rl/task.
package rl

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
)

// Config is a training run, read from TOML. Every key is documented in configs/README.md.
type Config struct {
	Run   RunConfig   `toml:"run"`
	Task  TaskConfig  `toml:"task"`
	Model ModelConfig `toml:"model"`
	Train TrainConfig `toml:"train"`
	RL    RLConfig    `toml:"rl"`
	Eval  EvalConfig  `toml:"eval"`
}

// RunConfig names the run and where it writes.
type RunConfig struct {
	Name   string `toml:"name"`    // run folder name under out_dir
	OutDir string `toml:"out_dir"` // parent of run folders (default "runs")
	Seed   uint64 `toml:"seed"`    // seeds data order, noise, sampling and initialisation
	Device string `toml:"device"`  // auto | cpu | vulkan | vulkan:N (demo train's -device overrides)
}

// TaskConfig picks the task.
type TaskConfig struct {
	Name string `toml:"name"` // countdown | sudoku | arithmetic
}

// ModelConfig is the architecture of a model trained from scratch, or the checkpoint to start
// from (init), whose architecture then wins.
type ModelConfig struct {
	Init      string  `toml:"init"`     // checkpoint path, model folder or shipped model name; empty = fresh
	AnyTask   bool    `toml:"any_task"` // allow an init checkpoint trained for another task
	DModel    int     `toml:"d_model"`
	Layers    int     `toml:"n_layers"`
	Heads     int     `toml:"n_heads"`
	KVHeads   int     `toml:"n_kv_heads"` // grouped-query attention; 0 = n_heads
	MLPHidden int     `toml:"mlp_hidden_size"`
	RopeTheta float64 `toml:"rope_theta"`
	NormEps   float64 `toml:"rms_norm_eps"`
	// LoRA trains adapters on a frozen model.init instead of every weight, when lora.r > 0.
	LoRA model.LoRAConfig `toml:"lora"`
}

// TrainConfig is the optimisation.
type TrainConfig struct {
	Method          Method   `toml:"method"`
	Steps           int      `toml:"steps"` // optimizer steps (SFT) or rollout batches (RL)
	BatchSize       int      `toml:"batch_size"`
	LR              float64  `toml:"lr"`
	WarmupSteps     int      `toml:"warmup_steps"`
	Schedule        Schedule `toml:"schedule"`
	MinLRRatio      float64  `toml:"min_lr_ratio"` // cosine floor as a fraction of lr
	WeightDecay     float64  `toml:"weight_decay"`
	Beta1           float64  `toml:"beta1"`
	Beta2           float64  `toml:"beta2"`
	AdamEps         float64  `toml:"adam_eps"`
	GradClip        float64  `toml:"grad_clip"` // max global gradient norm; 0 = off
	LogEvery        int      `toml:"log_every"`
	EvalEvery       int      `toml:"eval_every"`       // 0 = only at the end
	CheckpointEvery int      `toml:"checkpoint_every"` // 0 = only at the end
}

// RLConfig is the reinforcement-learning step: rollouts, rewards, advantages, estimator.
type RLConfig struct {
	Prompts      int           `toml:"prompts_per_step"` // distinct prompts per step
	Group        int           `toml:"group_size"`       // G rollouts per prompt
	ScaleRewards bool          `toml:"scale_rewards"`    // divide advantages by the group's reward std
	Beta         float64       `toml:"beta"`             // k3 KL weight to the initial model (0 = no reference)
	Iterations   int           `toml:"num_iterations"`   // μ optimizer updates per rollout batch
	MaxRows      int           `toml:"max_rows"`         // rows per forward/backward chunk of an update
	Rollout      RolloutConfig `toml:"rollout"`
	// Estimators are every registered estimator's settings by its name, each its section
	// [rl.<pg.Section(name)>] of a file (core/pg documents the keys); train.method picks the one
	// used; a missing entry is the estimator's defaults. A copy of a Config shares this map:
	// clone it (maps.Clone) before changing one copy's entries.
	Estimators Estimators `toml:"-"`
}

// Estimators are estimators' settings by name (pg.Register).
type Estimators map[string]pg.Settings

// settings are the settings of the estimator name: e's, or its registered defaults.
func (e Estimators) settings(name string) pg.Settings {
	if s, ok := e[name]; ok {
		return s
	}
	d, _ := pg.Defaults(name)
	return d
}

// defaultEstimators are every registered estimator's defaults.
func defaultEstimators() Estimators {
	e := Estimators{}
	for _, name := range pg.Names() {
		e[name], _ = pg.Defaults(name)
	}
	return e
}

// shared are the settings every estimator takes from the [rl] section and the rollouts.
func (r RLConfig) shared() pg.Shared {
	return pg.Shared{Beta: r.Beta, Iterations: r.Iterations, Temperature: float32(r.Rollout.Temperature), MaxRows: r.MaxRows}
}

// estimator are the settings of method's estimator, the shared ones filled in.
func (r RLConfig) estimator(method Method) pg.Settings {
	return r.Estimators.settings(method.name).With(r.shared())
}

// RolloutConfig is the sampler used for training rollouts.
type RolloutConfig struct {
	BlockLength int             `toml:"block_length"` // 0 = the whole answer
	Steps       int             `toml:"steps"`        // 0 = one per answer token
	MixedSteps  []int           `toml:"mixed_steps"`  // step counts cycled over RL steps (overrides steps when set)
	Temperature float64         `toml:"temperature"`
	TopK        int             `toml:"top_k"`
	TopP        float64         `toml:"top_p"`
	Remasking   core.Remasking  `toml:"remasking"`
	Confidence  core.Confidence `toml:"confidence"` // what low_confidence ranks by: tempered (AGRPO's) or untempered (LLaDA's)
}

// EvalConfig is the periodic and final evaluation on the test split.
type EvalConfig struct {
	N           int            `toml:"n"`            // test problems (0 = the whole split)
	Steps       []int          `toml:"steps"`        // sampling step counts to evaluate at
	BlockLength int            `toml:"block_length"` // 0 = the whole answer is one block
	Remasking   core.Remasking `toml:"remasking"`
	Temperature float64        `toml:"temperature"`
	BatchSize   int            `toml:"batch_size"`
}

// DefaultConfig is what a config file overrides: the miniature's SFT recipe.
func DefaultConfig() Config {
	return Config{
		Run: RunConfig{OutDir: "runs", Seed: 1, Device: "auto"},
		Model: ModelConfig{DModel: 128, Layers: 4, Heads: 4, MLPHidden: 384, RopeTheta: 10000, NormEps: 1e-5,
			LoRA: model.LoRAConfig{Alpha: 16, Targets: slices.Clone(model.Modules)}},
		Train: TrainConfig{Method: SFT, Steps: 600, BatchSize: 128, LR: 1e-3, WarmupSteps: 100, Schedule: Constant, MinLRRatio: 0.1,
			WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.99, AdamEps: 1e-8, GradClip: 1, LogEvery: 10, EvalEvery: 0, CheckpointEvery: 100},
		RL: RLConfig{Prompts: 16, Group: 8, Iterations: 1, MaxRows: 512,
			Rollout:    RolloutConfig{Temperature: 0.6, Remasking: core.RandomOrder, Confidence: core.Tempered},
			Estimators: defaultEstimators()},
		Eval: EvalConfig{N: 500, Remasking: core.LowConfidence, BatchSize: 250},
	}
}

// LoadConfig reads a TOML file over the defaults. Unknown keys and type errors are reported with
// the file, line and key; bad choices and ranges all together, by key.
func LoadConfig(path string) (Config, error) {
	raw, err := readCapped(path, maxConfigBytes)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg := DefaultConfig()
	choices, err := decodeConfig(path, raw, &cfg)
	if err != nil {
		return Config{}, err
	}
	if err := errors.Join(append(choices, cfg.Validate())...); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// DecodeTOML decodes strictly: a key the struct does not have is an error naming it and its line.
func DecodeTOML(name string, raw []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var msgs []string
		for _, e := range strict.Errors {
			row, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q", name, row, strings.Join(e.Key(), ".")))
		}
		return fmt.Errorf("config %s", strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := de.Key(); len(key) > 0 {
			msg = strings.Join(key, ".") + ": " + msg // a bad choice names its key
		}
		return fmt.Errorf("config %s:%d:%d: %s", name, row, col, msg)
	}
	return fmt.Errorf("config %s: %w", name, err)
}

// Validate checks ranges and names, reporting every problem with its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Run.Name == "" {
		bad("run.name", "must be set (it names the run folder)")
	} else if strings.ContainsAny(c.Run.Name, `/\`) || c.Run.Name == "." || c.Run.Name == ".." {
		bad("run.name", "%q must be a plain folder name", c.Run.Name)
	}
	if d := c.Run.Device; d != "auto" && d != "cpu" && d != "vulkan" && !strings.HasPrefix(d, "vulkan:") {
		bad("run.device", "%q, want auto, cpu, vulkan or vulkan:N", d)
	}
	if c.Task.Name == "" {
		bad("task.name", "must be set")
	}
	if l := c.Model.LoRA; l.R != 0 {
		if err := l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("model.lora.%w", err))
		}
		if c.Model.Init == "" {
			bad("model.lora.r", "%d: LoRA adapts a trained model, so model.init must name one", l.R)
		}
	}
	t := c.Train
	for _, ch := range []struct {
		key   string
		value encoding.TextMarshaler
	}{{"train.method", t.Method}, {"train.schedule", t.Schedule}, {"rl.rollout.remasking", c.RL.Rollout.Remasking},
		{"rl.rollout.confidence", c.RL.Rollout.Confidence}, {"eval.remasking", c.Eval.Remasking}} {
		if err := core.CheckChoice(ch.value); err != nil {
			bad(ch.key, "%v", err)
		}
	}
	if t.Method != SFT && core.CheckChoice(t.Method) == nil {
		errs = append(errs, c.RL.validate(t.Method)...)
	}
	if t.Steps <= 0 {
		bad("train.steps", "%d, must be positive", t.Steps)
	}
	if t.BatchSize <= 0 {
		bad("train.batch_size", "%d, must be positive", t.BatchSize)
	}
	if !(t.LR > 0) {
		bad("train.lr", "%g, must be positive", t.LR)
	}
	if t.WarmupSteps < 0 {
		bad("train.warmup_steps", "%d, must be ≥ 0", t.WarmupSteps)
	}
	if t.MinLRRatio < 0 || t.MinLRRatio > 1 {
		bad("train.min_lr_ratio", "%g, must be in [0, 1]", t.MinLRRatio)
	}
	if t.Beta1 < 0 || t.Beta1 >= 1 || t.Beta2 < 0 || t.Beta2 >= 1 {
		bad("train.beta1/beta2", "%g/%g, must be in [0, 1)", t.Beta1, t.Beta2)
	}
	if t.WeightDecay < 0 || t.GradClip < 0 || !(t.AdamEps > 0) {
		bad("train", "weight_decay and grad_clip must be ≥ 0 and adam_eps > 0")
	}
	if t.LogEvery <= 0 {
		bad("train.log_every", "%d, must be positive", t.LogEvery)
	}
	if t.EvalEvery < 0 || t.CheckpointEvery < 0 {
		bad("train", "eval_every and checkpoint_every must be ≥ 0")
	}
	if c.Eval.N < 0 || c.Eval.BatchSize <= 0 || c.Eval.Temperature < 0 || c.Eval.BlockLength < 0 {
		bad("eval", "n, block_length, temperature must be ≥ 0 and batch_size > 0")
	}
	for _, s := range c.Eval.Steps {
		if s <= 0 {
			bad("eval.steps", "%v: every step count must be positive", c.Eval.Steps)
			break
		}
	}
	// The file's shape has every estimator's section; a choice it cannot write is reported above.
	if file := reflect.New(configFileType()).Elem(); toFile(file, reflect.ValueOf(c)) == nil {
		errs = append(errs, nonFinite("", file)...)
	}
	return errors.Join(errs...)
}

func (r RLConfig) validate(method Method) []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if r.Prompts <= 0 {
		bad("rl.prompts_per_step", "%d, must be positive", r.Prompts)
	}
	if r.Group < 2 {
		bad("rl.group_size", "%d, must be ≥ 2 (advantages are relative to the group)", r.Group)
	}
	if r.Beta < 0 || r.Iterations <= 0 || r.MaxRows < 0 {
		bad("rl", "beta and max_rows must be ≥ 0, num_iterations > 0")
	}
	ro := r.Rollout
	if !(ro.Temperature > 0) {
		bad("rl.rollout.temperature", "%g: rollouts must be sampled at T > 0", ro.Temperature)
	}
	if ro.TopK < 0 || ro.TopP < 0 || ro.TopP > 1 || ro.BlockLength < 0 || ro.Steps < 0 {
		bad("rl.rollout", "top_k, block_length, steps must be ≥ 0 and top_p in [0, 1]")
	}
	for _, s := range ro.MixedSteps {
		if s <= 0 {
			bad("rl.rollout.mixed_steps", "%v: every step count must be positive", ro.MixedSteps)
			break
		}
	}
	// Each of the estimator's problems on a line of its own, keyed by its section.
	err := r.estimator(method).Validate()
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	for _, e := range list {
		if e != nil {
			errs = append(errs, fmt.Errorf("rl.%s: %w", pg.Section(method.name), e))
		}
	}
	return errs
}
