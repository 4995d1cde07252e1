package sft

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestNoise(t *testing.T) {
	const maskID = 9
	var batch []Example
	for r := 0; r < 400; r++ {
		batch = append(batch, Example{Prompt: []int32{7, 1, 2}, PromptMask: []int32{0, 1, 1}, Answer: []int32{3, 4, 5, 8, 8}})
	}
	n, err := Noise(batch, maskID, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if n.S != 8 || n.B != 400 {
		t.Fatalf("shape %d×%d", n.B, n.S)
	}
	var weightSum float64
	for r := 0; r < n.B; r++ {
		var w float32
		for i := 0; i < n.S; i++ {
			k := r*n.S + i
			ex := append(append([]int32(nil), batch[r].Prompt...), batch[r].Answer...)
			if n.Targets[k] != ex[i] {
				t.Fatalf("row %d target %d = %d, want the clean token %d", r, i, n.Targets[k], ex[i])
			}
			masked := n.Tokens[k] == maskID
			if i < 3 && (masked || n.Weights[k] != 0 || n.KeyMask[k] != batch[r].PromptMask[i]) {
				t.Fatalf("row %d: prompt position %d was noised or weighted", r, i)
			}
			if i >= 3 {
				if masked != (n.Weights[k] > 0) || n.KeyMask[k] != 1 {
					t.Fatalf("row %d pos %d: masked=%v weight=%g", r, i, masked, n.Weights[k])
				}
				if masked {
					if w == 0 {
						w = n.Weights[k]
					} else if w != n.Weights[k] {
						t.Fatalf("row %d: masked positions carry different weights", r)
					}
				}
			}
			weightSum += float64(n.Weights[k])
		}
		// 1/(p·C·B) ≥ 1/(C·B): a weight can only be large, never below the t = 1 value.
		if w != 0 && float64(w) < 1/(5.0*400)*(1-1e-6) {
			t.Fatalf("row %d: weight %g below 1/(C·B)", r, w)
		}
	}
	// E[Σ weights] = Σ_rows E[#masked/(p·C·B)] = Σ_rows 1/B = 1: the loss is an unbiased
	// average of per-token cross-entropies. With 400 rows the sample mean is within ~10%.
	if math.Abs(weightSum-1) > 0.1 {
		t.Errorf("sum of weights %g, want ≈ 1", weightSum)
	}
	if frac := float64(n.MaskedTokens) / float64(n.AnswerTotal); math.Abs(frac-0.5) > 0.05 {
		t.Errorf("masked fraction %g, want ≈ 0.5 (t uniform)", frac)
	}
	if _, err := Noise([]Example{batch[0], {Prompt: []int32{1}, PromptMask: []int32{1}, Answer: []int32{1}}}, maskID, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("ragged batch accepted")
	}
}

// TestRows: the parts of a batch cover its rows and their weights, so the parts' losses (and
// gradients, which sum the same weighted terms) add up to the whole batch's.
func TestRows(t *testing.T) {
	var batch []Example
	for r := range 7 {
		batch = append(batch, Example{Prompt: []int32{7, 1, int32(r)}, PromptMask: []int32{0, 1, 1}, Answer: []int32{3, 4, 5, 8, 8}})
	}
	n, err := Noise(batch, 9, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	masked, total := 0, 0
	for _, cut := range [][2]int{{0, 3}, {3, 4}, {4, 7}} {
		p := n.Rows(cut[0], cut[1])
		if p.B != cut[1]-cut[0] || p.S != n.S {
			t.Fatalf("rows %v: shape %d×%d", cut, p.B, p.S)
		}
		for i := range p.Tokens {
			k := cut[0]*n.S + i
			if p.Tokens[i] != n.Tokens[k] || p.Targets[i] != n.Targets[k] || p.KeyMask[i] != n.KeyMask[k] || p.Weights[i] != n.Weights[k] {
				t.Fatalf("rows %v: element %d differs from the batch's element %d", cut, i, k)
			}
		}
		masked += p.MaskedTokens
		total += p.AnswerTotal
	}
	if masked != n.MaskedTokens || total != n.AnswerTotal {
		t.Fatalf("parts count %d of %d masked, the batch %d of %d", masked, total, n.MaskedTokens, n.AnswerTotal)
	}
}
