package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
)

// benchResult is what `demo bench -json` prints, one object.
type benchResult struct {
	Backend          string             `json:"backend"`
	Device           string             `json:"device"`
	Kernel           string             `json:"gemm_kernel"`
	Threads          int                `json:"threads"`
	PeakGFLOPS       float64            `json:"peak_gflops"`
	MatmulGFLOPS     map[string]float64 `json:"matmul_gflops"`
	ForwardTokPerS   float64            `json:"forward_tokens_per_s"`
	TrainTokPerS     float64            `json:"train_tokens_per_s"`
	SampleTokPerS    float64            `json:"sample_tokens_per_s"`
	ModelBatch       string             `json:"model_batch"`
	ModelParams      int                `json:"model_params"`
	SecondsPerResult float64            `json:"seconds_per_result"`
}

// matmulShapes are (m, n, k, transA, transB): squares, then the demo model's linear layers
// forward (x·Wᵀ), their input gradients (dY·W) and weight gradients (dYᵀ·X) at 64×64 tokens.
var matmulShapes = []struct {
	m, n, k        int
	transA, transB bool
}{
	{512, 512, 512, false, false},
	{1024, 1024, 1024, false, false},
	{4096, 128, 128, false, true},
	{4096, 384, 128, false, true},
	{4096, 128, 384, false, true},
	{4096, 32, 128, false, true},
	{4096, 128, 384, false, false},
	{384, 128, 4096, true, false},
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [-json] [-time 1s]", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	per := fs.Duration("time", time.Second, "time spent on each measurement")
	device := fs.String("device", "cpu", deviceHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *per <= 0 {
		fmt.Fprintln(stderr, "demo bench: -time must be positive")
		return errUsage
	}
	b, _, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	res := benchResult{Backend: b.Name(), Device: runtime.GOARCH + " CPU", Kernel: gemm.Kernel(),
		Threads: runtime.GOMAXPROCS(0), MatmulGFLOPS: map[string]float64{}, SecondsPerResult: per.Seconds()}
	if _, isCPU := b.(*cpu.Backend); !isCPU {
		res.Device, res.Kernel = "vulkan", "shaders"
	}
	progress := func(what string) {
		if !*asJSON {
			fmt.Fprintf(stderr, "  timing %s...\n", what)
		}
	}
	progress("FMA peak")
	res.PeakGFLOPS = gemm.PeakGFLOPS(*per) // the CPU's, beside any backend
	for _, s := range matmulShapes {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		if s.transA {
			name += "_tA"
		}
		if s.transB {
			name += "_tB"
		}
		progress("matmul " + name)
		res.MatmulGFLOPS[name] = timeMatmul(b, s.m, s.n, s.k, s.transA, s.transB, *per)
	}
	progress("demo-size model")
	res.ForwardTokPerS, res.TrainTokPerS, res.ModelParams = timeModel(b, *per)
	progress("sampler")
	if res.SampleTokPerS, err = timeSampler(b, *per); err != nil {
		return err
	}
	res.ModelBatch = "64x64"
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "backend %s (%s, gemm kernel %s, %d threads)\n", res.Backend, res.Device, res.Kernel, res.Threads)
	fmt.Fprintf(stdout, "FMA peak            %8.1f GFLOP/s\n", res.PeakGFLOPS)
	for _, s := range matmulShapes {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		key := name
		if s.transA {
			key += "_tA"
		}
		if s.transB {
			key += "_tB"
		}
		fmt.Fprintf(stdout, "matmul %-22s %8.1f GFLOP/s (%.0f%% of peak)\n", key, res.MatmulGFLOPS[key], 100*res.MatmulGFLOPS[key]/res.PeakGFLOPS)
	}
	fmt.Fprintf(stdout, "model %d params, batch %s: forward %.0f tokens/s, forward+backward %.0f tokens/s\n",
		res.ModelParams, res.ModelBatch, res.ForwardTokPerS, res.TrainTokPerS)
	fmt.Fprintf(stdout, "sampler: %.0f tokens/s (a Countdown-size rollout: 128 rows of 13 + 12 tokens, 12 steps)\n", res.SampleTokPerS)
	return nil
}

// repeat runs fn until d has passed (after one warm-up call) and returns calls per second.
func repeat(d time.Duration, fn func()) float64 {
	fn()
	n := 0
	start := time.Now()
	for time.Since(start) < d || n < 2 {
		fn()
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

func timeMatmul(b core.Backend, m, n, k int, transA, transB bool, d time.Duration) float64 {
	shape := func(r, c int, t bool) []int {
		if t {
			return []int{c, r}
		}
		return []int{r, c}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(t *core.Tensor) *core.Tensor {
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		b.Upload(t, v)
		return t
	}
	a := fill(b.Alloc(core.F32, shape(m, k, transA)...))
	w := fill(b.Alloc(core.F32, shape(k, n, transB)...))
	c := b.Alloc(core.F32, m, n)
	rate := repeat(d, func() {
		b.MatMul(c, a, w, transA, transB, 1, 0)
		b.Sync()
	})
	return rate * 2 * float64(m) * float64(n) * float64(k) / 1e9
}

// timeModel times the demo-size model on 64 rows of 64 random tokens: the forward alone, and
// forward + weighted cross-entropy + backward (one SFT-style training pass, without the update).
func timeModel(b core.Backend, d time.Duration) (fwd, train float64, params int) {
	cfg := model.DemoConfig()
	p := model.NewParams(b, cfg)
	p.Init(b, cfg, 1)
	m := model.New(b, cfg, p)
	m.AllocGrads()
	const batch, seq = 64, 64
	n := batch * seq
	rng := rand.New(rand.NewPCG(3, 4))
	tok, mask, w := make([]int32, n), make([]int32, n), make([]float32, n)
	for i := range tok {
		tok[i], mask[i], w[i] = int32(rng.IntN(cfg.VocabSize)), 1, 1/float32(n)
	}
	tokens, keyMask := b.Alloc(core.I32, batch, seq), b.Alloc(core.I32, batch, seq)
	targets, weights := b.Alloc(core.I32, n), b.Alloc(core.F32, n)
	b.UploadInt(tokens, tok)
	b.UploadInt(keyMask, mask)
	b.UploadInt(targets, tok)
	b.Upload(weights, w)
	loss := b.Alloc(core.F32, 1)
	dLogits := b.Alloc(core.F32, batch, seq, cfg.VocabSize)
	fwd = float64(n) * repeat(d, func() {
		m.Forward(tokens, keyMask)
		b.Sync()
	})
	train = float64(n) * repeat(d, func() {
		logits := m.Forward(tokens, keyMask)
		b.CrossEntropy(loss, dLogits.Reshape(n, cfg.VocabSize), logits.Reshape(n, cfg.VocabSize), targets, weights)
		m.Backward(dLogits)
		b.Sync()
	})
	return fwd, train, cfg.NumParams()
}

// timeSampler times a training rollout of the demo-size model: 128 rows of a 13-token prompt
// and a 12-token completion, 12 steps (forward + sample + reveal each) at T = 0.6 with random
// remasking; tokens/s counts every token of every step's forward pass.
func timeSampler(b core.Backend, d time.Duration) (float64, error) {
	cfg := model.DemoConfig()
	cfg.MaxSeqLen = 25
	p := model.NewParams(b, cfg)
	p.Init(b, cfg, 1)
	m := model.New(b, cfg, p)
	prompts := make([]sampler.Prompt, 128)
	for i := range prompts {
		tok := make([]int32, 13)
		for j := range tok {
			tok[j] = int32((i + j) % 20)
		}
		prompts[i] = sampler.Prompt{Tokens: tok}
	}
	sc := sampler.Config{GenLength: 12, BlockLength: 12, Steps: 12, Temperature: 0.6, Remasking: core.RandomOrder}
	var err error
	rate := repeat(d, func() {
		if err == nil {
			_, err = sampler.Generate(m, prompts, sc, nil)
		}
	})
	return 128 * 25 * 12 * rate, err
}
