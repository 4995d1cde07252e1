//go:build linux && cgo

package pg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/core/vulkan/vulkantest"
)

// TestExactLikelihoodMatchesCPU: the same rollouts (sampled on the CPU) and the same draws give
// the same exact-likelihood gradient on the Vulkan backend as on the CPU, and so does the
// selection term alone (the exact gradient minus the token-only one), to float32 rounding.
func TestExactLikelihoodMatchesCPU(t *testing.T) {
	vb := vulkantest.Open(t)
	mc := toyModel(t)
	mv := model.New(vb, mc.Cfg, model.NewParams(vb, mc.Cfg))
	for i, p := range mc.P.Tensors(mc.Cfg) {
		v := make([]float32, p.Len())
		mc.B.Download(p, v)
		vb.Upload(mv.P.Tensors(mv.Cfg)[i], v)
	}
	mv.AllocGrads()
	prompts := make([]sampler.Prompt, 64)
	for i := range prompts {
		prompts[i] = sampler.Prompt{Tokens: toyPrompt}
	}
	for _, c := range []sampler.Config{
		{GenLength: 3, BlockLength: 3, Steps: 3, Temperature: 0.8, TopK: 2, Remasking: core.LowConfidence, Seed: 11},
		{GenLength: 3, BlockLength: 3, Steps: 2, Temperature: 1.2, Remasking: core.LowConfidence, Confidence: core.Untempered, Seed: 12},
	} {
		tr, err := sampler.Generate(mc, prompts, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		adv := make([]float64, tr.B)
		for i := range adv {
			adv[i] = toyReward(tr.Completion(i)) - 0.4
		}
		grad := func(m *model.Model, likelihood Likelihood) []float64 {
			est, err := NewAGRPO(AGRPOConfig{MCSamples: 2, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2,
				Iterations: 1, Scaling: SumScaling, Temperature: c.Temperature, Likelihood: likelihood})
			if err != nil {
				t.Fatal(err)
			}
			m.Grads.Zero(m.B, m.Cfg)
			if _, err := est.Accumulate(m, nil, &Rollouts{Traj: tr, Adv: adv}, 0, rand.New(rand.NewPCG(4, 4))); err != nil {
				t.Fatal(err)
			}
			return flatGrad(m, 1)
		}
		ec, ev := grad(mc, ExactLikelihood), grad(mv, ExactLikelihood)
		tc, tv := grad(mc, TokensLikelihood), grad(mv, TokensLikelihood)
		selC, selV := make([]float64, len(ec)), make([]float64, len(ec))
		var nSel, nExact float64
		for i := range ec {
			selC[i], selV[i] = ec[i]-tc[i], ev[i]-tv[i]
			nSel += selC[i] * selC[i]
			nExact += ec[i] * ec[i]
		}
		total, sel := relL2(ev, ec), relL2(selV, selC)
		t.Logf("%v %v top_k=%d: Vulkan vs CPU, relative L2 error of the exact gradient %.2g, of its selection term %.2g (‖selection‖/‖exact‖ = %.2f)",
			c.Remasking, c.Confidence, c.TopK, total, sel, math.Sqrt(nSel/nExact))
		if total > 1e-4 || sel > 1e-4 {
			t.Errorf("%+v: the Vulkan gradient differs from the CPU's (relative error %.2g, selection term %.2g)", c, total, sel)
		}
	}
}

// TestChunkedMatchesCPU: with the head in chunks of 8 rows on Vulkan (views of the chunk
// buffers and of the support encoding bound at offsets), sampling gives the CPU's tokens and an
// AGRPO update with the exact likelihood the CPU's gradient (one chunk there) to float32
// rounding, with and without a top-k cut.
func TestChunkedMatchesCPU(t *testing.T) {
	vb := vulkantest.Open(t)
	for _, topK := range []int{0, 7} {
		mc, mv := chunkModel(t, cpu.New(), 0), chunkModel(t, vb, 8)
		rc, rv := chunkRollouts(t, mc, 12, chunkSampling(topK)), chunkRollouts(t, mv, 12, chunkSampling(topK))
		same := 0
		for i := range rc.Traj.Tokens {
			if rc.Traj.Tokens[i] == rv.Traj.Tokens[i] {
				same++
			}
		}
		if same != len(rc.Traj.Tokens) {
			t.Errorf("top_k %d: Vulkan in chunks sampled %d of %d tokens as the CPU did", topK, same, len(rc.Traj.Tokens))
		}
		if e := relL2(agrpoGrad(t, mv, rc), agrpoGrad(t, mc, rc)); e > 1e-4 {
			t.Errorf("top_k %d: the chunked Vulkan gradient differs from the CPU's by %.2g (relative L2)", topK, e)
		} else {
			t.Logf("top_k %d: relative L2 error of the chunked Vulkan gradient %.2g", topK, e)
		}
	}
}
