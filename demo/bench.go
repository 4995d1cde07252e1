package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu/gemm"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/core/vulkan"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
)

// benchResult is what `demo bench -json` prints, one object.
type benchResult struct {
	Backend        string             `json:"backend"`
	Device         string             `json:"device"`
	Kernel         string             `json:"gemm_kernel"`
	Threads        int                `json:"threads"`
	PeakGFLOPS     float64            `json:"peak_gflops"`
	PeakISA        string             `json:"peak_isa"`
	MatmulGFLOPS   map[string]float64 `json:"matmul_gflops"`
	ForwardTokPerS float64            `json:"forward_tokens_per_s"`
	TrainTokPerS   float64            `json:"train_tokens_per_s"`
	SampleTokPerS  float64            `json:"sample_tokens_per_s"`
	// One AGRPO step with random-order rollouts (the config default), where the exact
	// likelihood is the tokens' product, and its two parts.
	AGRPOStepS    float64 `json:"agrpo_step_s"`
	AGRPORolloutS float64 `json:"agrpo_rollout_s"` // the step's rollouts (sampling the 128 completions)
	AGRPOUpdateS  float64 `json:"agrpo_update_s"`  // the step's estimator passes and optimizer update
	// The same with low-confidence rollouts (the shipped recipes' order), where the exact
	// likelihood adds the selection factor of the positions left masked, and its backward.
	AGRPOExactStepS    float64 `json:"agrpo_exact_step_s"`
	AGRPOExactRolloutS float64 `json:"agrpo_exact_rollout_s"`
	AGRPOExactUpdateS  float64 `json:"agrpo_exact_update_s"`
	// The process's CPU time (user + system, both orders' steps alike) per timed step, 0 where
	// the OS does not report it: on a shared machine the work, where the wall times above are
	// the contention too.
	AGRPOStepCPUS      float64 `json:"agrpo_step_cpu_s"`
	AGRPOExactStepCPUS float64 `json:"agrpo_exact_step_cpu_s"`
	// Profile is the device time per op of one training pass and one rollout (Vulkan only).
	Profile          map[string][]opTime `json:"profile,omitempty"`
	ModelBatch       string              `json:"model_batch"`
	ModelParams      int                 `json:"model_params"`
	SecondsPerResult float64             `json:"seconds_per_result"`
}

// opTime is one op's line in a profile.
type opTime struct {
	Op    string  `json:"op"`
	Count int     `json:"count"`
	Ms    float64 `json:"ms"`
}

// benchShape is one matmul of the bench: C[m,n] = op(A)·op(B) over k.
type benchShape struct {
	m, n, k        int
	transA, transB bool
}

func (s benchShape) String() string {
	name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
	if s.transA {
		name += "_tA"
	}
	if s.transB {
		name += "_tB"
	}
	return name
}

// matmulShapes are squares, then the demo model's linear layers forward (x·Wᵀ), their input
// gradients (dY·W) and weight gradients (dYᵀ·X) at 64×64 tokens.
var matmulShapes = []benchShape{
	{512, 512, 512, false, false},
	{1024, 1024, 1024, false, false},
	{4096, 128, 128, false, true},
	{4096, 384, 128, false, true},
	{4096, 128, 384, false, true},
	{4096, 32, 128, false, true},
	{4096, 128, 384, false, false},
	{384, 128, 4096, true, false},
}

// gpuShapes are added on a GPU, where the small shapes measure launch overhead more than the
// arithmetic (on lavapipe they would take minutes).
var gpuShapes = []benchShape{{2048, 2048, 2048, false, false}, {4096, 4096, 4096, false, false}}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [-json] [-time 1s] [-device cpu] [-agrpo-only] [-agrpo-steps 2] [-cpuprofile FILE]", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	per := fs.Duration("time", time.Second, "time spent on each measurement")
	device := fs.String("device", "cpu", deviceHelp)
	agrpoOnly := fs.Bool("agrpo-only", false, "time only the two AGRPO steps (skip the peak, matmuls, model and sampler)")
	agrpoSteps := fs.Int("agrpo-steps", 2, "AGRPO steps timed (their mean) after one warm-up step")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the AGRPO steps (warm-up included) to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *per <= 0 {
		fmt.Fprintln(stderr, "demo bench: -time must be positive")
		return errUsage
	}
	if *agrpoSteps <= 0 {
		fmt.Fprintln(stderr, "demo bench: -agrpo-steps must be positive")
		return errUsage
	}
	b, _, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	res := benchResult{Backend: b.Name(), Device: runtime.GOARCH + " CPU", Kernel: gemm.Kernel(),
		Threads: runtime.GOMAXPROCS(0), MatmulGFLOPS: map[string]float64{}, SecondsPerResult: per.Seconds()}
	shapes := matmulShapes
	vb, isVulkan := b.(*vulkan.Backend)
	if isVulkan {
		res.Device, res.Kernel = "vulkan", "shaders"
		if _, kind := vb.Device(); kind != "cpu" {
			shapes = append(shapes[:len(shapes):len(shapes)], gpuShapes...)
		}
	}
	progress := func(what string) {
		if !*asJSON {
			fmt.Fprintf(stderr, "  timing %s...\n", what)
		}
	}
	if !*agrpoOnly {
		if err := benchKernels(b, &res, shapes, *per, progress); err != nil {
			return err
		}
	}
	progress("AGRPO steps")
	if err := benchAGRPO(b, &res, *agrpoSteps, *cpuProfile); err != nil {
		return err
	}
	if isVulkan && !*agrpoOnly {
		progress("per-op profile")
		if res.Profile, err = profileOps(vb); err != nil {
			return err
		}
	}
	res.ModelBatch = "64x64"
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "backend %s (%s, gemm kernel %s, %d threads)\n", res.Backend, res.Device, res.Kernel, res.Threads)
	if !*agrpoOnly {
		fmt.Fprintf(stdout, "CPU FMA peak         %8.1f GFLOP/s (%s)\n", res.PeakGFLOPS, res.PeakISA)
		for _, s := range shapes {
			g := res.MatmulGFLOPS[s.String()]
			if isVulkan {
				fmt.Fprintf(stdout, "matmul %-22s %8.1f GFLOP/s\n", s, g)
			} else {
				fmt.Fprintf(stdout, "matmul %-22s %8.1f GFLOP/s (%.0f%% of peak)\n", s, g, 100*g/res.PeakGFLOPS)
			}
		}
		fmt.Fprintf(stdout, "model %d params, batch %s: forward %.0f tokens/s, forward+backward %.0f tokens/s\n",
			res.ModelParams, res.ModelBatch, res.ForwardTokPerS, res.TrainTokPerS)
		fmt.Fprintf(stdout, "sampler: %.0f tokens/s (a Countdown-size rollout: 128 rows of 13 + 12 tokens, 12 steps)\n", res.SampleTokPerS)
	}
	fmt.Fprintf(stdout, "AGRPO step: %.2f s = rollouts %.2f s + update %.2f s (Countdown, 16 prompts × 8 rollouts, 4 MC steps each, from countdown-base, random order)\n",
		res.AGRPOStepS, res.AGRPORolloutS, res.AGRPOUpdateS)
	fmt.Fprintf(stdout, "AGRPO step: %.2f s = rollouts %.2f s + update %.2f s (the same in low-confidence order, exact likelihood with its selection factor)\n",
		res.AGRPOExactStepS, res.AGRPOExactRolloutS, res.AGRPOExactUpdateS)
	if res.AGRPOStepCPUS > 0 {
		fmt.Fprintf(stdout, "AGRPO step, CPU time of the process (all threads): %.2f s (random order), %.2f s (low-confidence, exact)\n",
			res.AGRPOStepCPUS, res.AGRPOExactStepCPUS)
	}
	for _, what := range []string{"train_pass", "rollout"} {
		if len(res.Profile[what]) == 0 {
			continue
		}
		fmt.Fprintf(stdout, "device time per op, one %s:\n", strings.ReplaceAll(what, "_", " "))
		for _, o := range res.Profile[what] {
			fmt.Fprintf(stdout, "  %-22s %5d dispatches %9.3f ms\n", o.Op, o.Count, o.Ms)
		}
	}
	return nil
}

// benchKernels fills res's FMA peak, matmul rates and the model's and sampler's token rates.
func benchKernels(b core.Backend, res *benchResult, shapes []benchShape, per time.Duration, progress func(string)) error {
	progress("FMA peak")
	res.PeakGFLOPS, res.PeakISA = gemm.PeakGFLOPS(per), gemm.PeakISA() // the CPU's, beside any backend
	for _, s := range shapes {
		progress("matmul " + s.String())
		res.MatmulGFLOPS[s.String()] = timeMatmul(b, s, per)
	}
	progress("demo-size model")
	mb := newModelBench(b)
	n := float64(mb.tokens)
	res.ForwardTokPerS, res.TrainTokPerS, res.ModelParams = n*repeat(per, mb.forward), n*repeat(per, mb.train), mb.params
	progress("sampler")
	rollout := newRolloutBench(b)
	res.SampleTokPerS = float64(rollout.tokens) * repeat(per, rollout.run)
	return rollout.err
}

// benchAGRPO times n AGRPO steps in each rollout order into res, under a CPU profile written
// to profile when it is not empty.
func benchAGRPO(b core.Backend, res *benchResult, n int, profile string) (err error) {
	if profile != "" {
		stop, err := startCPUProfile(profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if res.AGRPOStepS, res.AGRPORolloutS, res.AGRPOUpdateS, res.AGRPOStepCPUS, err = timeAGRPOStep(b, core.RandomOrder, n); err != nil {
		return err
	}
	res.AGRPOExactStepS, res.AGRPOExactRolloutS, res.AGRPOExactUpdateS, res.AGRPOExactStepCPUS, err = timeAGRPOStep(b, core.LowConfidence, n)
	return err
}

// startCPUProfile starts Go's CPU profiler writing to path; stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("demo bench: -cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("demo bench: -cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
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

func timeMatmul(b core.Backend, s benchShape, d time.Duration) float64 {
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
	a := fill(b.Alloc(core.F32, shape(s.m, s.k, s.transA)...))
	w := fill(b.Alloc(core.F32, shape(s.k, s.n, s.transB)...))
	c := b.Alloc(core.F32, s.m, s.n)
	defer func() {
		for _, t := range []*core.Tensor{a, w, c} {
			b.Free(t)
		}
	}()
	rate := repeat(d, func() {
		b.MatMul(c, a, w, s.transA, s.transB, 1, 0)
		b.Sync()
	})
	return rate * 2 * float64(s.m) * float64(s.n) * float64(s.k) / 1e9
}

// modelBench is the demo-size model on 64 rows of 64 random tokens: the forward alone, and
// forward + weighted cross-entropy + backward (one SFT-style training pass, without the update).
type modelBench struct {
	forward, train func()
	tokens, params int
}

func newModelBench(b core.Backend) modelBench {
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
	return modelBench{
		forward: func() {
			m.Forward(tokens, keyMask)
			b.Sync()
		},
		train: func() {
			logits := m.Forward(tokens, keyMask)
			b.CrossEntropy(loss, dLogits.Reshape(n, cfg.VocabSize), logits.Reshape(n, cfg.VocabSize), targets, weights)
			m.Backward(dLogits)
			b.Sync()
		},
		tokens: n, params: cfg.NumParams(),
	}
}

// rolloutBench is a training rollout of the demo-size model: 128 rows of a 13-token prompt
// and a 12-token completion, 12 steps (forward + sample + reveal each) at T = 0.6 with random
// remasking; tokens counts every token of every step's forward pass.
type rolloutBench struct {
	run    func()
	tokens int
	err    error
}

func newRolloutBench(b core.Backend) *rolloutBench {
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
	rb := &rolloutBench{tokens: 128 * 25 * 12}
	rb.run = func() {
		if rb.err == nil {
			_, rb.err = sampler.Generate(m, prompts, sc, nil)
		}
	}
	return rb
}

// timeAGRPOStep runs AGRPO at the shipped Countdown recipe's size (16 prompts × 8 rollouts of
// 12 steps, 4 Monte Carlo steps per trajectory, the exact likelihood) from countdown-base, with
// rollouts unmasked in the given order, for 1 + n steps in a scratch folder and returns the
// mean wall time of the last n (the first warms up pipelines and caches), with its rollout
// and update parts as the trainer logs them and the process's CPU time per step.
func timeAGRPOStep(b core.Backend, remasking core.Remasking, n int) (step, rollout, update, cpu float64, err error) {
	dir, err := os.MkdirTemp("", "agrpo-bench-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	c := rl.DefaultConfig()
	c.Run.Name, c.Run.OutDir = "bench", dir // run.device is not read: the run gets b
	c.Task.Name, c.Model = "countdown", rl.ModelConfig{Init: "countdown-base"}
	if c.Train.Method, err = rl.ParseMethod("agrpo"); err != nil {
		return 0, 0, 0, 0, err
	}
	c.Train.Steps, c.Train.LR, c.Train.WarmupSteps, c.Train.CheckpointEvery = 1+n, 1e-6, 0, 0
	agrpo, ok := c.RL.Estimators["agrpo"].(pg.AGRPOConfig)
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("no AGRPO settings in the default config")
	}
	agrpo.Likelihood = pg.ExactLikelihood
	c.RL.Estimators["agrpo"] = agrpo // c's map is its own: DefaultConfig makes a new one
	c.RL.Rollout.Remasking = remasking
	c.Eval = rl.EvalConfig{N: 1, Steps: []int{12}, Remasking: core.LowConfidence, BatchSize: 1}
	tr, err := rl.NewRun(c, models.Shipped, b, io.Discard)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var cpu0 time.Duration
	tr.OnStep = func(st rl.StepInfo) {
		if st.Step == 1 {
			cpu0, _ = processCPU()
		}
		if st.Step == 1+n {
			if t, ok := processCPU(); ok {
				cpu = (t - cpu0).Seconds() / float64(n)
			}
		}
		if st.Step > 1 {
			step += st.Seconds / float64(n)
			rollout += st.Metrics["rollout_s"] / float64(n)
			update += st.Metrics["update_s"] / float64(n)
		}
	}
	if err := tr.Run(context.Background()); err != nil {
		return 0, 0, 0, 0, err
	}
	return step, rollout, update, cpu, nil
}

// profileOps opens a second, profiling context on vb's device and records the device time per
// op of one training pass and one rollout (each after a warm-up run).
func profileOps(vb *vulkan.Backend) (map[string][]opTime, error) {
	idx, _ := vb.Device()
	pb, err := vulkan.New(vulkan.Options{Device: idx, AllowCPU: true, Profile: true})
	if err != nil {
		return nil, err
	}
	defer pb.Close()
	rollout := newRolloutBench(pb)
	out := map[string][]opTime{}
	for what, fn := range map[string]func(){"train_pass": newModelBench(pb).train, "rollout": rollout.run} {
		fn()
		pb.ResetProfile()
		fn()
		for _, o := range pb.Profile() {
			out[what] = append(out[what], opTime{Op: o.Op, Count: o.Count, Ms: o.Total.Seconds() * 1e3})
		}
	}
	return out, rollout.err
}
