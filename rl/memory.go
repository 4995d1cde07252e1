package rl

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/task"
)

// MemoryPlan is the bytes a run allocates on its backend, part by part, before anything is
// allocated: checkMemory refuses a run whose total exceeds the device's memory, and `demo plan`
// prints it.
type MemoryPlan struct {
	Weights     float64 `json:"weights"`     // the model's weights as held (a frozen LoRA base may stay 16-bit)
	Adapters    float64 `json:"adapters"`    // LoRA's A and B
	Gradients   float64 `json:"gradients"`   // one per trainable parameter (with LoRA: the adapters' and a norm sink)
	Moments     float64 `json:"moments"`     // AdamW's two moments per trainable parameter
	Reference   float64 `json:"reference"`   // the KL reference's weights (rl.beta > 0 without LoRA)
	Activations float64 `json:"activations"` // forward buffers and backward scratch at the largest batch, the head's row chunks, the reference's
	Buffers     float64 `json:"buffers"`     // the trainer's, estimator's and sampler's per-step buffers
	// Merged is the float32 merged model W + (α/r)·B·A that a LoRA run makes on the backend to
	// write model.safetensors at its end (finalParams), while everything else is still held.
	Merged float64 `json:"merged"`
	// Setting is the setting to lower when the run does not fit: the one that sizes the larger
	// of the activations and the model's state.
	Setting string `json:"setting"`
}

// Total is the sum of the parts.
func (p MemoryPlan) Total() float64 {
	return p.Weights + p.Adapters + p.Gradients + p.Moments + p.Reference + p.Activations + p.Buffers + p.Merged
}

// Parts are the parts with their names, in the order `demo plan` prints them.
func (p MemoryPlan) Parts() []PlanPart {
	return []PlanPart{{"weights", p.Weights}, {"adapters", p.Adapters}, {"gradients", p.Gradients},
		{"optimizer moments", p.Moments}, {"KL reference weights", p.Reference}, {"activations", p.Activations},
		{"per-step buffers", p.Buffers},
		{"merged model at the end", p.Merged}}
}

// PlanPart is one named part of a MemoryPlan.
type PlanPart struct {
	Name  string
	Bytes float64
}

// Float32Weights is what the weights of mc take held in float32, as training holds a model it
// fine-tunes every weight of.
func Float32Weights(mc model.Config) float64 { return 4 * float64(mc.NumParams()) }

// HeldWeights is what parameters p take as they are held (float32, or 16-bit 2-D weights).
func HeldWeights(p *model.Params, mc model.Config) float64 {
	n := 0.0
	for _, t := range p.Tensors(mc) {
		n += float64(t.Len() * dtypeBytes(t.DType()))
	}
	return n
}

// dtypeBytes is the size of one element of dt on a backend.
func dtypeBytes(dt core.DType) int {
	if dt == core.BF16 || dt == core.F16 {
		return 2
	}
	return 4
}

// PlanMemory is the memory plan of cfg for a model mc whose weights take weights bytes as held
// (Float32Weights, or HeldWeights of a frozen LoRA base loaded as stored), as float64 so that an
// absurd size cannot overflow. Activations are one buffer set per model, grown to the largest
// batch it runs (core/model): the trained model's at the largest of evaluation, rollout and
// update batches, and the KL reference's at the update's.
func PlanMemory(cfg Config, mc model.Config, t task.Task, weights float64) MemoryPlan {
	seq := t.PromptLen() + t.AnswerLen()
	p := MemoryPlan{Weights: weights}
	lora := cfg.Model.LoRA.R > 0
	trainable := float64(mc.NumParams())
	if lora {
		trainable = float64(mc.LoRAParams(cfg.Model.LoRA))
		p.Adapters = 4 * trainable
		p.Gradients = 4*trainable + 4*float64(mc.DModel) // the norms' gradients go to one [D] sink
		p.Merged = Float32Weights(mc)
	} else {
		p.Gradients = 4 * trainable
	}
	p.Moments = 8 * trainable
	rows, setting := cfg.Eval.BatchSize, "eval.batch_size"
	refRows := 0
	// The eval sampler's buffers: tokens, key mask, reveal steps, log-probabilities, entropy.
	evalSeqBytes := 4 * float64(cfg.Eval.BatchSize) * float64(2*seq+3*t.AnswerLen())
	switch cfg.Train.Method {
	case SFT:
		if cfg.Train.BatchSize > rows {
			rows, setting = cfg.Train.BatchSize, "train.batch_size"
		}
		p.Buffers = 16 * float64(cfg.Train.BatchSize) * float64(seq) // tokens, key mask, targets, weights
	default:
		rollouts := cfg.RL.Prompts * cfg.RL.Group
		update := cfg.RL.estimator(cfg.Train.Method).UpdateRows(rollouts)
		if rollouts > rows || update > rows {
			rows, setting = max(rollouts, update), "rl.prompts_per_step × rl.group_size"
			if update > rollouts { // the update's chunk of rows is the larger batch
				setting = "rl.max_rows"
			}
		}
		scorers := 1.0
		if cfg.RL.Beta > 0 {
			if !lora { // LoRA's reference shares the base
				p.Reference = Float32Weights(mc)
			}
			refRows = update
			scorers = 2
		}
		// Each scorer holds 11 values per token of an update's rows; the rollout sampler holds
		// its sequences and, with a top-k/top-p cut, every row's block of kept-token flags.
		p.Buffers = scorers * 44 * float64(update) * float64(seq)
		for _, c := range rolloutConfigs(cfg.RL.Rollout, t) {
			sample := 4 * float64(rollouts) * float64(2*seq+3*t.AnswerLen())
			if c.Cuts() {
				sample += 4 * float64(rollouts) * float64(c.BlockLength) * float64(mc.VocabSize)
			}
			evalSeqBytes = max(evalSeqBytes, sample)
		}
	}
	p.Buffers += evalSeqBytes
	p.Activations = mc.ActivationBytes(rows, seq) + mc.ActivationBytes(refRows, seq)
	if lora {
		p.Activations += mc.LoRAActivationBytes(cfg.Model.LoRA, rows, seq)
	}
	p.Setting = setting
	if p.Weights+p.Adapters+p.Gradients+p.Moments+p.Reference+p.Merged > p.Activations {
		p.Setting = "the model's size (model.d_model, n_layers, mlp_hidden_size)"
		if lora {
			p.Setting = "the model's size (a smaller model.init) or model.lora.r"
		}
	}
	return p
}

// Check refuses the plan when its total exceeds avail bytes, the memory of what where names
// ("this machine has free", "the device has"), naming the setting to lower.
func (p MemoryPlan) Check(avail int64, where string) error {
	if need := p.Total(); need > float64(avail) {
		return fmt.Errorf("this run needs about %.1f GiB, more than the %.1f GiB %s: lower %s",
			need/(1<<30), float64(avail)/(1<<30), where, p.Setting)
	}
	return nil
}

// deviceMemory is a backend that knows its device's memory and kind (the Vulkan backend).
type deviceMemory interface {
	MemoryBytes() uint64
	Device() (index int, kind string)
}

// DeviceMemory is the memory a run on b can use and what it is: a GPU's largest device-local
// heap, or for the CPU backend and a CPU implementation of Vulkan (lavapipe, whose buffers are
// host memory) MemAvailable; false where it is not known (then nothing is checked).
func DeviceMemory(b core.Backend) (bytes int64, where string, ok bool) {
	d, isDev := b.(deviceMemory)
	if isDev {
		if _, kind := d.Device(); kind != "cpu" && d.MemoryBytes() > 0 {
			return int64(d.MemoryBytes()), "the device has", true
		}
	}
	if !isDev && !strings.HasPrefix(b.Name(), "cpu") {
		return 0, "", false
	}
	avail, ok := availableMemory()
	return avail, "this machine has free", ok
}

// checkMemory refuses a run whose plan does not fit in the memory of b (DeviceMemory), naming
// the setting to lower, before anything is allocated: a run that does not fit would otherwise
// be killed part-way, crash Go or fail a device allocation.
func checkMemory(p MemoryPlan, b core.Backend) error {
	avail, where, ok := DeviceMemory(b)
	if !ok {
		return nil
	}
	return p.Check(avail, where)
}

// availableMemory is MemAvailable from /proc/meminfo (Linux); false where it cannot be read.
func availableMemory() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
