// Command hfload measures loading a Hugging Face LLaDA folder: -make writes a synthetic one of
// the given shape (BF16, in shards with an index, random values), -load times model.LoadDir on
// the CPU backend (widened to float32, or with -keep16 kept 16-bit: model.LoadDir16) and
// reports the peak resident memory (VmHWM, Linux) beside the folder's size.
//
//	go run ./tools/hfload -make /tmp/llada-1g [-tokenizer testdata/tokenizer/llada-bpe]
//	go run ./tools/hfload -load /tmp/llada-1g [-keep16]
//
// With -tokenizer the folder gets that folder's tokenizer files and its special ids (mask, EOS,
// pad) in config.json, so that the demo's commands (eval -task gsm8k, sample -prompt) run on it.
//
// Run the two in separate processes, so the peak of -load is the loader's alone.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
)

func main() {
	mk := flag.String("make", "", "write a synthetic BF16 folder here")
	load := flag.String("load", "", "load this folder on the CPU backend and report time and peak memory")
	keep16 := flag.Bool("keep16", false, "with -load: keep the 2-D weights 16-bit (model.LoadDir16)")
	layers := flag.Int("layers", 9, "n_layers of the synthetic model (d_model 2048, 16 heads on 4 key/value heads, MLP 5632, vocabulary 32000: 9 layers ≈ 1.07 GB in BF16)")
	perShard := flag.Int("layers-per-shard", 3, "blocks per shard of the synthetic model")
	tokDir := flag.String("tokenizer", "", "with -make: copy this folder's tokenizer files and take its special ids")
	flag.Parse()
	var err error
	switch {
	case *mk != "":
		err = write(*mk, *layers, *perShard, *tokDir)
	case *load != "":
		err = measure(*load, *keep16)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hfload:", err)
		os.Exit(1)
	}
}

// write makes the folder shard by shard, so that it never holds more than one shard's bytes.
func write(dir string, layers, perShard int, tokDir string) error {
	cfg := model.Config{VocabSize: 32000, DModel: 2048, Layers: layers, Heads: 16, KVHeads: 4, MLPHidden: 5632,
		MaxSeqLen: 4096, RopeTheta: 500000, NormEps: 1e-5, MaskID: 31999, EOSID: 31998, PadID: 31998}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if tokDir != "" {
		tok, err := hf.Load(tokDir)
		if err != nil {
			return err
		}
		if tok.VocabSize() > cfg.VocabSize {
			return fmt.Errorf("%s: %d tokens, over the model's %d", tokDir, tok.VocabSize(), cfg.VocabSize)
		}
		sp := tok.Specials()
		if sp.Mask < 0 || sp.EOS < 0 {
			return fmt.Errorf("%s: the tokenizer has no mask or no EOS token", tokDir)
		}
		cfg.MaskID, cfg.EOSID, cfg.PadID = int(sp.Mask), int(sp.EOS), int(sp.EOS)
		if sp.Pad >= 0 {
			cfg.PadID = int(sp.Pad)
		}
		for _, f := range []string{hf.TokenizerFile, hf.ConfigFile} {
			raw, err := os.ReadFile(filepath.Join(tokDir, f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
				return err
			}
		}
	}
	cj, err := model.HFConfigJSON(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, model.HFConfigName), cj, 0o644); err != nil {
		return err
	}
	// Group the tensors: the embedding, perShard blocks at a time, then the final norm and head.
	var groups [][]model.Shape
	var cur []model.Shape
	for _, s := range cfg.Shapes() {
		if strings.HasSuffix(s.Name, ".attn_norm.weight") && strings.Contains(s.Name, ".blocks.") {
			var i int
			fmt.Sscanf(s.Name, "model.transformer.blocks.%d.", &i)
			if i%perShard == 0 && len(cur) > 0 {
				groups, cur = append(groups, cur), nil
			}
		}
		cur = append(cur, s)
	}
	groups = append(groups, cur)
	rng := rand.New(rand.NewPCG(1, 2))
	weightMap := map[string]string{}
	var total int64
	for g, shapes := range groups {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", g+1, len(groups))
		tensors := map[string]safetensors.Tensor{}
		for _, s := range shapes {
			n := 1
			for _, d := range s.Shape {
				n *= d
			}
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.02)
			}
			tensors[s.Name] = safetensors.FromFloat32As(safetensors.BF16, v, s.Shape...)
			weightMap[s.Name] = name
			total += int64(2 * n)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := safetensors.Write(w, map[string]string{"format": "pt"}, tensors); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	idx, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d parameters, %.3f GB of BF16 in %d shards\n", dir, cfg.NumParams(), float64(total)/1e9, len(groups))
	return os.WriteFile(filepath.Join(dir, safetensors.IndexName), idx, 0o644)
}

func measure(dir string, keep16 bool) error {
	var size int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if st, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".safetensors") {
			size += st.Size()
		}
	}
	b := cpu.New()
	start := time.Now()
	load := model.LoadDir
	if keep16 {
		load = model.LoadDir16
	}
	ck, err := load(dir, b)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	runtime.KeepAlive(ck)
	hwm := peakRSS()
	fmt.Printf("loaded %s (keep16 %v): %d parameters from %.3f GB of safetensors in %.2f s (%.2f GB/s of file); peak RSS %.3f GB = %.2f× the files\n",
		dir, keep16, ck.Config.NumParams(), float64(size)/1e9, elapsed.Seconds(), float64(size)/1e9/elapsed.Seconds(),
		float64(hwm)/1e9, float64(hwm)/float64(size))
	return nil
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, 0 where /proc has none.
func peakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		var kb int64
		if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return 0
}
