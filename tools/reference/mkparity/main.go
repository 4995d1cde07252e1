// Command mkparity writes the inputs of the PyTorch parity test: a small random checkpoint in
// this project's format (model.safetensors) and fixed inputs (inputs.safetensors). The PyTorch
// script tools/reference/parity.py then writes expected.safetensors beside them.
//
//	go run ./tools/reference/mkparity -out testdata/parity
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/dllmrl/agrpo/core/atomicfile"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/safetensors"
)

func main() {
	out := flag.String("out", "testdata/parity", "output folder")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkparity:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	cfg := model.Config{VocabSize: 23, DModel: 32, Layers: 2, Heads: 4, MLPHidden: 48, MaxSeqLen: 16,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: 22, EOSID: 21, PadID: 21}
	rng := rand.New(rand.NewPCG(2026, 11))
	// Weights at a scale where softmaxes are far from uniform, so every gradient is exercised;
	// norm weights away from 1 so they matter.
	tensors := map[string]safetensors.Tensor{}
	for _, s := range cfg.Shapes() {
		v := make([]float32, prod(s.Shape))
		for i := range v {
			if len(s.Shape) == 1 {
				v[i] = float32(1 + 0.2*rng.NormFloat64())
			} else {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(s.Shape[1])))
			}
		}
		tensors[s.Name] = safetensors.FromFloat32(v, s.Shape...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := model.SaveTensors(filepath.Join(dir, "model.safetensors"), cfg, tensors, nil); err != nil {
		return err
	}

	const batch, seq = 3, 11
	tokens := make([]int32, batch*seq)
	keyMask := make([]int32, batch*seq)
	targets := make([]int32, batch*seq)
	weights := make([]float32, batch*seq)
	for b := 0; b < batch; b++ {
		t := 0.1 + 0.8*rng.Float64() // the masking level of this row
		for l := 0; l < seq; l++ {
			i := b*seq + l
			pad := (b == 1 && l < 3) || (b == 2 && l >= seq-2) // left padding in row 1, right in row 2
			targets[i] = int32(rng.IntN(cfg.VocabSize - 1))
			tokens[i] = targets[i]
			if pad {
				tokens[i] = int32(cfg.PadID)
				continue
			}
			keyMask[i] = 1
			if l >= 4 && rng.Float64() < t { // a masked answer position: weighted 1/t as in SFT
				tokens[i] = int32(cfg.MaskID)
				weights[i] = float32(1 / (t * float64(seq-4) * batch))
			}
		}
	}
	in := map[string]safetensors.Tensor{
		"tokens":   safetensors.FromInt32(tokens, batch, seq),
		"key_mask": safetensors.FromInt32(keyMask, batch, seq),
		"targets":  safetensors.FromInt32(targets, batch, seq),
		"weights":  safetensors.FromFloat32(weights, batch, seq),
	}
	return atomicfile.Write(filepath.Join(dir, "inputs.safetensors"), func(w io.Writer) error {
		return safetensors.Write(w, map[string]string{"format": "agrpo-go/v1-parity-inputs"}, in)
	})
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
