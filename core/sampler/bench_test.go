package sampler

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
)

// BenchmarkGenerate times a training rollout at the demo model's size: 128 rows of a 13-token
// prompt and a 12-token completion, 12 steps, T = 0.6, random remasking (tokens/s counts every
// forward token).
func BenchmarkGenerate(b *testing.B) {
	be := cpu.New()
	cfg := model.DemoConfig()
	cfg.MaxSeqLen = 25
	p := model.NewParams(be, cfg)
	p.Init(be, cfg, 1)
	m := model.New(be, cfg, p)
	prompts := make([]Prompt, 128)
	for i := range prompts {
		tok := make([]int32, 13)
		for j := range tok {
			tok[j] = int32((i + j) % 20)
		}
		prompts[i] = Prompt{Tokens: tok}
	}
	sc := Config{GenLength: 12, BlockLength: 12, Steps: 12, Temperature: 0.6, Remasking: core.RandomOrder}
	for b.Loop() {
		if _, err := Generate(m, prompts, sc, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(128*25*12)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
