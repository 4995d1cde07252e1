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

// memoryNeed estimates the bytes a run allocates on its backend: the weights with their
// gradients and AdamW moments (with LoRA: the frozen base and the adapters with theirs; and the
// reference model's weights for rl.beta > 0 without LoRA), plus the
// model's activation buffers at the largest batch it runs — one buffer per model, grown to the
// largest batch (core/model). It names the setting that sizes the larger part.
func memoryNeed(cfg Config, mc model.Config, t task.Task) (bytes float64, setting string) {
	seq := t.PromptLen() + t.AnswerLen()
	params := 4 * float64(mc.NumParams())
	weights := 4 * params // weights, gradients, two moments
	lora := cfg.Model.LoRA.R > 0
	if lora { // a frozen base (counted as float32) and the adapters with theirs
		weights = params + 16*float64(mc.LoRAParams(cfg.Model.LoRA))
	}
	rows, setting := cfg.Eval.BatchSize, "eval.batch_size"
	refRows := 0
	switch cfg.Train.Method {
	case SFT:
		if cfg.Train.BatchSize > rows {
			rows, setting = cfg.Train.BatchSize, "train.batch_size"
		}
	default:
		rollouts := cfg.RL.Prompts * cfg.RL.Group
		update := cfg.RL.estimator(cfg.Train.Method).UpdateRows(rollouts)
		if rollouts > rows || update > rows {
			rows, setting = max(rollouts, update), "rl.prompts_per_step × rl.group_size"
		}
		if cfg.RL.Beta > 0 {
			if !lora { // LoRA's reference shares the base
				weights += params
			}
			refRows = update
		}
	}
	acts := mc.ActivationBytes(rows, seq) + mc.ActivationBytes(refRows, seq)
	if lora {
		acts += mc.LoRAActivationBytes(cfg.Model.LoRA, rows, seq)
	}
	if weights > acts {
		setting = "the model's size (model.d_model, n_layers, mlp_hidden_size)"
	}
	return weights + acts, setting
}

// checkMemory refuses a run that would not fit in the memory the CPU backend can use (a Vulkan
// device's memory is not checked here), naming the setting to lower, before anything is
// allocated: a run that does not fit would otherwise be killed part-way or crash Go.
func checkMemory(cfg Config, mc model.Config, t task.Task, b core.Backend) error {
	if !strings.HasPrefix(b.Name(), "cpu") {
		return nil
	}
	avail, ok := availableMemory()
	if !ok {
		return nil
	}
	need, setting := memoryNeed(cfg, mc, t)
	if need > float64(avail) {
		return fmt.Errorf("this run needs about %.1f GiB, more than the %.1f GiB this machine has free: lower %s",
			need/(1<<30), float64(avail)/(1<<30), setting)
	}
	return nil
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
