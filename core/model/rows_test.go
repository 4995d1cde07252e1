package model

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

func TestHiddenRows(t *testing.T) {
	for _, adapted := range []bool{false, true} {
		RunHiddenRows(t, cpu.New(), adapted)
	}
}

// RunHiddenRows checks HiddenRows, Logits and the backward after them against the full Forward
// and Backward on backend b, with dLogits zero outside the rows (what the full pass then
// computes for the same loss) and anything there for HiddenRows: the logits at the rows bit for
// bit and 0 elsewhere; every gradient that does not sum over positions inside the last block's
// pruned part bit for bit; the six that do (the last block's output projection, FF norm and
// MLP, and the final norm: sums over fewer terms) to float32 rounding. Twice, so that the reused
// row views are checked too, then once more at another row count. adapted runs it with LoRA
// adapters on every module (the adapters' gradients are then the ones compared).
func RunHiddenRows(t *testing.T, b core.Backend, adapted bool) {
	cfg := tinyConfig()
	cfg.Layers = 3
	const batch, seq = 5, 12
	in := randomBatch(b, cfg, batch, seq, 7)
	full, rows := randomModel(t, b, cfg, 3), randomModel(t, b, cfg, 3)
	if adapted {
		attachTestLoRA(t, full)
		attachTestLoRA(t, rows)
	}
	full.AllocGrads()
	rows.AllocGrads()
	v := cfg.VocabSize
	rng := rand.New(rand.NewPCG(5, 9))
	for round, n := range []int{17, 17, 31} {
		// n distinct positions in random order: the completion-like tail of some rows, some prompt positions.
		pos := rng.Perm(batch * seq)[:n]
		ids := b.Alloc(core.I32, n)
		pos32 := make([]int32, n)
		for i, p := range pos {
			pos32[i] = int32(p)
		}
		b.UploadInt(ids, pos32)
		dl := make([]float32, batch*seq*v)
		for _, p := range pos {
			for j := range v {
				dl[p*v+j] = float32(rng.NormFloat64())
			}
		}
		dLogits := b.Alloc(core.F32, batch, seq, v)
		b.Upload(dLogits, dl)

		rows.HiddenRows(in.tokens, in.keyMask, ids)
		want, got := download(b, full.Forward(in.tokens, in.keyMask)), download(b, rows.Logits(0, batch*seq))
		sel := make([]bool, batch*seq)
		for _, p := range pos {
			sel[p] = true
		}
		for i, g := range got {
			w := want[i]
			if !sel[i/v] {
				w = 0
			}
			if math.Float32bits(g) != math.Float32bits(w) && !(g == 0 && w == 0) {
				t.Fatalf("round %d: logit %d (position %d, selected %v) = %g, want %g", round, i, i/v, sel[i/v], g, w)
			}
		}
		full.ZeroGrads()
		rows.ZeroGrads()
		// The full pass reads dLogits everywhere (0 outside the rows); the pruned one at the rows only,
		// so give it garbage elsewhere.
		for i := range dl {
			if !sel[i/v] {
				dl[i] = float32(rng.NormFloat64())
			}
		}
		dGarbage := b.Alloc(core.F32, batch*seq, v)
		b.Upload(dGarbage, dl)
		full.Backward(dLogits)
		rows.HeadBackward(dGarbage, 0, batch*seq)
		rows.BackwardHidden()
		last := cfg.Layers - 1
		summed := map[string]bool{"model.transformer.ln_f.weight": true}
		for _, s := range []string{"attn_out", "ff_norm", "ff_proj", "up_proj", "ff_out"} {
			summed[blockName(last, s)] = true
		}
		fg, rg := full.Trainables(), rows.Trainables()
		for k := range fg {
			w, g := download(b, fg[k].Grad), download(b, rg[k].Grad)
			name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(fg[k].Name, "base_model.model."), ".lora_A.weight"), ".lora_B.weight")
			if adapted {
				name += ".weight" // an adapter sums over the positions its module runs on, as its weight would
			}
			var maxAbs, maxErr float64
			for i := range w {
				maxAbs = max(maxAbs, math.Abs(float64(w[i])))
				maxErr = max(maxErr, math.Abs(float64(g[i]-w[i])))
				if !summed[name] && math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] == 0 && w[i] == 0) {
					t.Fatalf("round %d: gradient %s[%d] = %g after HiddenRows, %g after Forward: want bit for bit", round, name, i, g[i], w[i])
				}
			}
			if maxAbs == 0 {
				t.Fatalf("round %d: gradient %s is all zero: the check would be empty", round, name)
			}
			if maxErr > 1e-5*maxAbs {
				t.Errorf("round %d: gradient %s differs by %g (largest entry %g)", round, name, maxErr, maxAbs)
			}
		}
		b.Free(ids)
		b.Free(dLogits)
		b.Free(dGarbage)
	}
}

func blockName(i int, what string) string {
	return "model.transformer.blocks." + strconv.Itoa(i) + "." + what + ".weight"
}
