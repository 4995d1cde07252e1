package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/task"
)

// planReport is what `demo plan -json` prints: the plan's parts in bytes, their total, the
// device's memory (0 when unknown) and whether the run fits.
type planReport struct {
	rl.MemoryPlan
	Total       float64 `json:"total"`
	Device      string  `json:"device"`
	DeviceBytes int64   `json:"device_bytes"`
	Fits        bool    `json:"fits"`
	Refusal     string  `json:"refusal,omitempty"` // what train would answer when it does not fit
}

func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", "plan -config configs/FILE.toml [-ckpt DIR] [-device D] [-json]", stderr)
	config := fs.String("config", "", "run config (TOML; configs/README.md lists the keys)")
	ckpt := fs.String("ckpt", "", "the model to fine-tune instead of the config's model.init: a Hugging Face folder, a checkpoint or a shipped model name")
	device := fs.String("device", "", deviceHelp+" (default: the config's run.device)")
	asJSON := fs.Bool("json", false, "print the plan as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *config == "" {
		fmt.Fprintln(stderr, "demo plan: -config is required")
		return errUsage
	}
	cfg, err := rl.LoadConfig(*config)
	if err != nil {
		return refused(err)
	}
	if *ckpt != "" {
		cfg.Model.Init = *ckpt
	}
	t, err := task.ByName(cfg.Task.Name)
	if err != nil {
		return refused(fmt.Errorf("task.name: %w", err))
	}
	mc, weights, about, err := plannedModel(cfg, t)
	if err != nil {
		return refused(err)
	}
	if *device == "" {
		*device = cfg.Run.Device
	}
	b, why, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	p := rl.PlanMemory(cfg, mc, t, weights)
	r := planReport{MemoryPlan: p, Total: p.Total(), Device: why, Fits: true}
	avail, where, known := rl.DeviceMemory(b)
	if known {
		r.DeviceBytes = avail
		if err := p.Check(avail, where); err != nil {
			r.Fits, r.Refusal = false, err.Error()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "%s: %s %s on %s\n", *config, cfg.Train.Method, t.Name(), about)
	for _, part := range p.Parts() {
		fmt.Fprintf(stdout, "  %-24s %s\n", part.Name, bytesText(int64(part.Bytes)))
	}
	fmt.Fprintf(stdout, "  %-24s %s\n", "total", bytesText(int64(r.Total)))
	switch {
	case !known:
		fmt.Fprintf(stdout, "device %s: its memory is unknown, so nothing is checked\n", why)
	case r.Fits:
		fmt.Fprintf(stdout, "device %s: %s %s; the run fits\n", why, bytesText(avail), where)
	default:
		fmt.Fprintf(stdout, "device %s: %s %s; the run does not fit: %s\n", why, bytesText(avail), where, r.Refusal)
	}
	return nil
}

// plannedModel is the architecture a run of cfg trains and the bytes its weights take as train
// holds them, read without loading the weights: a LoRA base from a Hugging Face folder keeps
// its 16-bit 2-D weights, everything else is float32. about describes the model.
func plannedModel(cfg rl.Config, t task.Task) (mc model.Config, weights float64, about string, err error) {
	if cfg.Model.Init == "" {
		mc = rl.ModelConfigFor(cfg.Model, t)
		if err := mc.Validate(); err != nil {
			return mc, 0, "", fmt.Errorf("model: %w", err)
		}
		return mc, rl.Float32Weights(mc), fmt.Sprintf("a fresh model (%.2f M parameters)", float64(mc.NumParams())/1e6), nil
	}
	src := resolveCheckpoint(cfg.Model.Init)
	mc, tensors, done, err := describe(src)
	if err != nil {
		return mc, 0, "", fmt.Errorf("model.init: %w", err)
	}
	defer done()
	weights = rl.Float32Weights(mc)
	if st, err := os.Stat(src); err == nil && st.IsDir() && cfg.Model.LoRA.R > 0 {
		weights = float64(storedHeld(mc, tensors).Bytes)
	}
	return mc, weights, fmt.Sprintf("%s (%.2f M parameters)", src, float64(mc.NumParams())/1e6), nil
}
