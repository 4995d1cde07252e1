//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// TestUnmaskMatchesCPU runs short sampling loops on this backend and on the CPU backend from the
// same state and compares them after every step: tokens, reveal steps and supports exactly,
// log-probabilities and entropies to fp32 rounding. Most configurations draw logits on a grid of
// eighths, so rows are full of exact ties, which is where top-k, top-p and greedy must break ties
// as the CPU does. Such rows also give different positions equal distributions (n tied tokens,
// the rest cut), whose log-probabilities and entropies are equal in real arithmetic and differ
// only by rounding, on the CPU too; so with grid logits the model-dependent remasking rules
// reveal every candidate, and their ordering is checked on continuous logits instead (the
// random rule's scores are exact, so it is checked on both). V = 7 runs the shader's mode of one
// invocation per position, V ≥ 100 its mode of one workgroup per position, and V > 256 makes
// the workgroup loop over the vocabulary.
func TestUnmaskMatchesCPU(t *testing.T) {
	g := newTest(t)
	h := cpu.New()
	rng := rand.New(rand.NewPCG(5, 11))
	type cfg struct {
		v, topK   int
		temp      float32
		topP      float32
		rm        core.Remasking
		conf      core.Confidence
		reveal    int
		noSupport bool
		grid      bool
	}
	var cfgs []cfg
	for _, v := range []int{7, 300} {
		for _, temp := range []float32{0, 0.7} {
			for _, tk := range []int{0, 1, 3, 40} {
				for _, tp := range []float32{0, 0.3, 0.85} {
					if temp == 0 && (tk > 0 || tp > 0) {
						continue
					}
					for _, rm := range []core.Remasking{core.LowConfidence, core.RandomOrder, core.LowEntropy} {
						reveal := 1 + rng.IntN(3)
						if rm != core.RandomOrder {
							reveal = 100
						}
						cfgs = append(cfgs, cfg{v: v, topK: tk, temp: temp, topP: tp, rm: rm,
							reveal: reveal, noSupport: rng.IntN(4) == 0, grid: true},
							cfg{v: v, topK: tk, temp: temp, topP: tp, rm: rm, reveal: 1 + rng.IntN(3)})
					}
				}
			}
		}
	}
	// The other workgroup size (128 for V = 100), larger vocabularies, and Reveal over the number
	// of candidates.
	cfgs = append(cfgs, cfg{v: 1000, topK: 17, temp: 0.9, topP: 0.6, rm: core.RandomOrder, reveal: 2, grid: true},
		cfg{v: 1000, topK: 17, temp: 0.9, topP: 0.6, rm: core.LowConfidence, reveal: 2},
		cfg{v: 1000, temp: 1, topP: 0.95, rm: core.LowEntropy, reveal: 9},
		cfg{v: 600, temp: 0, rm: core.LowConfidence, reveal: 1},
		cfg{v: 100, topK: 5, temp: 0.8, topP: 0.9, rm: core.RandomOrder, reveal: 2, grid: true},
		cfg{v: 100, topK: 5, temp: 0.8, topP: 0.9, rm: core.LowEntropy, reveal: 2},
		// LLaDA's untempered confidence, one invocation and one workgroup per position.
		cfg{v: 7, temp: 0.7, topK: 3, rm: core.LowConfidence, conf: core.Untempered, reveal: 2},
		cfg{v: 300, temp: 0.7, topP: 0.85, rm: core.LowConfidence, conf: core.Untempered, reveal: 2},
		cfg{v: 300, temp: 0, rm: core.LowConfidence, conf: core.Untempered, reveal: 1})
	for ci, cf := range cfgs {
		name := fmt.Sprintf("v=%d T=%g topk=%d topp=%g %v %v reveal=%d grid=%v", cf.v, cf.temp, cf.topK, cf.topP, cf.rm, cf.conf, cf.reveal, cf.grid)
		const nb, promptLen, c = 3, 2, 6
		seq, v := promptLen+c, cf.v
		maskID := int32(rng.IntN(v))
		lv := make([]float32, nb*seq*v)
		for i := range lv {
			lv[i] = float32(rng.NormFloat64() * 2)
			if cf.grid {
				// Eighths in [−2, 2]: exact ties, including −0 against +0.
				lv[i] = float32(rng.IntN(33)-16) / 8
				if lv[i] == 0 && rng.IntN(2) == 0 {
					lv[i] = float32(math.Copysign(0, -1))
				}
			}
		}
		tok := make([]int32, nb*seq)
		steps := make([]int32, nb*c)
		for r := range nb {
			for i := range seq {
				tok[r*seq+i] = maskID
				if i < promptLen {
					tok[r*seq+i] = int32(rng.IntN(v))
				}
			}
			for j := range c {
				steps[r*c+j] = -1
			}
			tok[r*seq+promptLen+1], steps[r*c+1] = 0, 0
		}
		active := []int32{1, 0, 1}
		type side struct {
			b  core.Backend
			st core.UnmaskState
			lg *core.Tensor
		}
		mk := func(b core.Backend) side {
			st := core.UnmaskState{Tokens: b.Alloc(core.I32, nb, seq), RevealStep: b.Alloc(core.I32, nb, c),
				LogP: b.Alloc(core.F32, nb, c), Entropy: b.Alloc(core.F32, nb, c), Active: b.Alloc(core.I32, nb)}
			b.UploadInt(st.Tokens, tok)
			b.UploadInt(st.RevealStep, steps)
			b.UploadInt(st.Active, active)
			lg := b.Alloc(core.F32, nb, seq, v)
			b.Upload(lg, lv)
			return side{b, st, lg}
		}
		sides := [2]side{mk(g), mk(h)}
		for step := range 3 {
			p := core.UnmaskParams{PromptLen: promptLen, BlockStart: 0, BlockEnd: c - step, Reveal: cf.reveal,
				Step: 10*ci + step, Temperature: cf.temp, TopK: cf.topK, TopP: cf.topP, Remasking: cf.rm,
				Confidence: cf.conf, Seed: uint32(ci), MaskID: maskID}
			bl := p.BlockEnd - p.BlockStart
			for k := range sides {
				sd := &sides[k]
				if !cf.noSupport { // the step's block's supports, zeroed on both sides
					sd.st.Support = sd.b.Alloc(core.F32, nb, bl, v)
					sd.b.Fill(sd.st.Support, 0)
				}
				sd.b.UnmaskStep(sd.st, sd.lg, p)
			}
			at := fmt.Sprintf("%s, step %d", name, step)
			var ints [2][2][]int32
			var floats [2][3][]float32
			for k, sd := range sides {
				ints[k][0], ints[k][1] = make([]int32, nb*seq), make([]int32, nb*c)
				sd.b.DownloadInt(sd.st.Tokens, ints[k][0])
				sd.b.DownloadInt(sd.st.RevealStep, ints[k][1])
				floats[k][0], floats[k][1] = make([]float32, nb*c), make([]float32, nb*c)
				sd.b.Download(sd.st.LogP, floats[k][0])
				sd.b.Download(sd.st.Entropy, floats[k][1])
				if !cf.noSupport {
					floats[k][2] = make([]float32, nb*bl*v)
					sd.b.Download(sd.st.Support, floats[k][2])
					sd.b.Free(sd.st.Support)
				}
			}
			for w, what := range []string{"tokens", "reveal steps"} {
				if fmt.Sprint(ints[0][w]) != fmt.Sprint(ints[1][w]) {
					t.Fatalf("%s: %s %v, cpu %v (logp %v, cpu %v; entropy %v, cpu %v)", at, what, ints[0][w], ints[1][w],
						floats[0][0], floats[1][0], floats[0][1], floats[1][1])
				}
			}
			for i, x := range floats[0][2] {
				if x != floats[1][2][i] {
					t.Fatalf("%s: support[%d] (row %d, position %d, id %d) is %g, cpu %g", at, i, i/(bl*v), i/v%bl, i%v, x, floats[1][2][i])
				}
			}
			for w, what := range []string{"logp", "entropy"} {
				for i, x := range floats[0][w] {
					if want := floats[1][w][i]; math.Abs(float64(x-want)) > 1e-5*max(1, math.Abs(float64(want))) {
						t.Fatalf("%s: %s[%d] is %g, cpu %g", at, what, i, x, want)
					}
				}
			}
		}
		for _, sd := range sides {
			for _, x := range []*core.Tensor{sd.st.Tokens, sd.st.RevealStep, sd.st.LogP, sd.st.Entropy, sd.st.Active, sd.lg} {
				sd.b.Free(x)
			}
		}
	}
}
