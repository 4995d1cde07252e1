package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
)

// tokenizerFiles are the files of a Hugging Face folder that export carries over from a source
// folder: the tokenizer and its configuration (with the chat template).
var tokenizerFiles = []string{hf.TokenizerFile, hf.ConfigFile, "special_tokens_map.json"}

// runExport writes a checkpoint as a Hugging Face folder in LLaDA's layout.
func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "export -ckpt RUNDIR|FILE|NAME|DIR -out DIR [-dtype f32|bf16] [-shard-mb N]", stderr)
	ckpt := fs.String("ckpt", "", "a run folder, a checkpoint file, a shipped model name or a Hugging Face folder")
	out := fs.String("out", "", "the folder to write (config.json, safetensors, index, tokenizer files when the source has them)")
	dtype := fs.String("dtype", "f32", "f32 | bf16 (rounded to nearest even)")
	shardMB := fs.Int("shard-mb", 5000, "largest shard in MB (Hugging Face's default is 5 GB); 0: one file")
	adapter := fs.String("adapter", "", "with -merge: "+adaptersHelp)
	merge := fs.Bool("merge", false, "write -ckpt with -adapter merged in: W + (lora_alpha/r)·B·A for every adapted weight")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var dt safetensors.DType
	switch *dtype {
	case "f32":
		dt = safetensors.F32
	case "bf16":
		dt = safetensors.BF16
	default:
		fmt.Fprintf(stderr, "demo export: -dtype %q: want f32 or bf16\n", *dtype)
		return errUsage
	}
	if *ckpt == "" || *out == "" || *shardMB < 0 {
		fmt.Fprintln(stderr, "demo export: -ckpt and -out are required, -shard-mb must be ≥ 0")
		return errUsage
	}
	if *merge != (*adapter != "") {
		fmt.Fprintln(stderr, "demo export: -merge and -adapter go together (the adapter folder itself is already PEFT's format)")
		return errUsage
	}
	if _, err := os.Stat(filepath.Join(*out, model.HFConfigName)); err == nil {
		return refused(fmt.Errorf("%s already holds a model (%s); choose another -out", *out, model.HFConfigName))
	}
	src := resolveCheckpoint(*ckpt)
	b := cpu.New()
	// 16-bit weights stay 16-bit until written: SaveDir widens them exactly, so the folder is
	// the same as from widened weights, at half the memory.
	ck, err := rl.LoadModelAs(src, models.Shipped, b, rl.AsStored)
	if err != nil {
		return refused(err)
	}
	m, err := adapted(b, ck, *adapter)
	if err != nil {
		return err
	}
	params := ck.Params
	if m.LoRA != nil {
		params = m.MergedParams()
	}
	if err := model.SaveDir(*out, b, ck.Config, params, dt, int64(*shardMB)<<20); err != nil {
		return err
	}
	copied, err := copyTokenizerFiles(tokenizerSource(*ckpt, src), *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %.2f M parameters in %s", *out, model.HFConfigName, float64(ck.Config.NumParams())/1e6, dt)
	if len(copied) > 0 {
		fmt.Fprintf(stdout, ", %s", strings.Join(copied, ", "))
	}
	fmt.Fprintln(stdout)
	if len(copied) == 0 {
		fmt.Fprintln(stderr, "note: no tokenizer files written: the source has none (the shipped models use rl/task's 22-character vocabulary)")
	}
	return nil
}

// resolveCheckpoint turns a run folder into its model (or, for an unfinished run, its
// checkpoint); anything else, a Hugging Face folder (config.json) included, is returned as it
// is for rl.LoadModel.
func resolveCheckpoint(path string) string {
	if _, err := os.Stat(filepath.Join(path, model.HFConfigName)); err == nil {
		return path
	}
	for _, f := range []string{rl.ModelFile, rl.CheckpointFile} {
		if st, err := os.Stat(filepath.Join(path, f)); err == nil && st.Mode().IsRegular() {
			return filepath.Join(path, f)
		}
	}
	return path
}

// tokenizerSource is the folder whose tokenizer files an export of ckpt (resolved to src)
// carries over: src itself, or for a run folder the folder its model.init names, whose tokens
// the run's model has (a path as the run was started with, as resuming reads it).
func tokenizerSource(ckpt, src string) string {
	if src != filepath.Join(ckpt, rl.ModelFile) && src != filepath.Join(ckpt, rl.CheckpointFile) {
		return src
	}
	cfg, err := rl.LoadConfig(filepath.Join(ckpt, rl.ConfigFile))
	if err != nil {
		return src
	}
	return cfg.Model.Init
}

// copyTokenizerFiles copies the tokenizer files of a source folder into out and names them
// (none when the source is a file or a shipped model).
func copyTokenizerFiles(src, out string) ([]string, error) {
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return nil, nil
	}
	var copied []string
	for _, f := range tokenizerFiles {
		raw, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return copied, err
		}
		if err := os.WriteFile(filepath.Join(out, f), raw, 0o644); err != nil {
			return copied, err
		}
		copied = append(copied, f)
	}
	return copied, nil
}

// runInfo prints what a checkpoint is: architecture, parameters, dtypes and memory.
func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", "info -ckpt RUNDIR|FILE|NAME|DIR", stderr)
	ckpt := fs.String("ckpt", "", "a run folder, a checkpoint file, a shipped model name or a Hugging Face folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		fmt.Fprintln(stderr, "demo info: -ckpt is required")
		return errUsage
	}
	src := resolveCheckpoint(*ckpt)
	c, tensors, done, err := describe(src)
	if err != nil {
		return refused(err)
	}
	defer done()
	fmt.Fprintf(stdout, "%s\n", src)
	fmt.Fprintf(stdout, "  architecture  LLaDA-style masked-diffusion transformer: %d layers, d_model %d, %d heads on %d key/value heads (head dim %d), SwiGLU MLP %d, RoPE θ %g, RMSNorm ε %g\n",
		c.Layers, c.DModel, c.Heads, c.KVHeadCount(), c.HeadDim(), c.MLPHidden, c.RopeTheta, c.NormEps)
	fmt.Fprintf(stdout, "  vocabulary    %d tokens (mask %d, eos %d, pad %d), up to %d positions\n", c.VocabSize, c.MaskID, c.EOSID, c.PadID, c.MaxSeqLen)
	fmt.Fprintf(stdout, "  parameters    %d (%.2f M)\n", c.NumParams(), float64(c.NumParams())/1e6)
	if tensors != nil {
		fmt.Fprintf(stdout, "  stored as     %s\n", dtypeSummary(tensors))
	}
	wide := 4 * int64(c.NumParams())
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		fmt.Fprintf(stdout, "  memory        weights %s in float32, as every command holds them (a checkpoint of this project is float32)\n", bytesText(wide))
		return nil
	}
	// A folder loaded as eval, sample and export load it (rl.AsStored).
	fmt.Fprintf(stdout, "  memory        weights %s as eval, sample and export hold them; %s in float32 as train (and -dtype f32) holds them\n",
		storedHeld(c, tensors), bytesText(wide))
	return nil
}

// storedHeld is what the weights of a Hugging Face folder with these tensor headers take held
// as stored (rl.AsStored: as eval, sample and a LoRA base hold them).
func storedHeld(c model.Config, tensors map[string]safetensors.Tensor) heldWeights {
	h := heldWeights{Tensors: map[string]int{}}
	for _, s := range c.Shapes() {
		h.add(model.HeldDType(tensors[s.Name].DType, s.Shape), core.NumElems(s.Shape))
	}
	return h
}

// describe reads what info prints without loading the weights (a real model would take its
// whole size in float32): the config and the tensors' headers, memory-mapped, of a Hugging Face
// folder or a checkpoint file; a shipped model (small, embedded) is loaded, and has no tensors
// to list. done releases the mapped files.
func describe(src string) (c model.Config, tensors map[string]safetensors.Tensor, done func(), err error) {
	done = func() {}
	st, err := os.Stat(src)
	switch {
	case err != nil:
		ck, err := rl.LoadModel(src, models.Shipped, cpu.New())
		if err != nil {
			return c, nil, done, err
		}
		return ck.Config, nil, done, nil
	case st.IsDir():
		raw, err := os.ReadFile(filepath.Join(src, model.HFConfigName))
		if err == nil {
			c, err = model.ParseHFConfig(raw)
		}
		if err != nil {
			return c, nil, done, fmt.Errorf("%s: %w", src, err)
		}
		set, err := safetensors.OpenSet(src)
		if err != nil {
			return c, nil, done, err
		}
		return c, set.Tensors, func() { set.Close() }, nil
	}
	f, err := safetensors.OpenFile(src)
	if err != nil {
		return c, nil, done, fmt.Errorf("checkpoint %s: %w", src, err)
	}
	if c, err = model.ConfigOf(src, f); err != nil {
		f.Close()
		return c, nil, done, err
	}
	return c, f.Tensors, func() { f.Close() }, nil
}

// dtypeSummary counts tensors and bytes per stored dtype.
func dtypeSummary(tensors map[string]safetensors.Tensor) string {
	count, size := map[safetensors.DType]int{}, map[safetensors.DType]int64{}
	for _, t := range tensors {
		count[t.DType]++
		size[t.DType] += int64(len(t.Data))
	}
	var parts []string
	for _, dt := range slices.Sorted(maps.Keys(count)) {
		parts = append(parts, fmt.Sprintf("%d tensors %s (%s)", count[dt], dt, bytesText(size[dt])))
	}
	return strings.Join(parts, ", ")
}

// bytesText is n bytes in the largest binary unit that keeps a leading digit.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
