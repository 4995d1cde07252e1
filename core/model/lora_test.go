package model

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// testLoRA adapts every LLaDA module (the head too, by PEFT's suffix rule for ff_out).
var testLoRA = LoRAConfig{R: 3, Alpha: 6, Targets: Modules}

// attachTestLoRA attaches testLoRA to m and gives every B random values: PEFT starts B at zero,
// which would leave A's gradient zero and the adapted model equal to the base.
func attachTestLoRA(t *testing.T, m *Model) {
	t.Helper()
	if err := m.AttachLoRA(testLoRA, 7); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tr := range m.Trainables() {
		if strings.HasSuffix(tr.Name, ".lora_B.weight") {
			v := make([]float32, tr.Param.Len())
			for i := range v {
				v[i] = float32(0.3 * rng.NormFloat64())
			}
			m.B.Upload(tr.Param, v)
		}
	}
}

// adaptedTestModel is a random tiny model on the CPU with attachTestLoRA's adapters, and a batch.
func adaptedTestModel(t *testing.T) (*Model, batchInput) {
	t.Helper()
	b, cfg := cpu.New(), tinyConfig()
	m := randomModel(t, b, cfg, 1)
	attachTestLoRA(t, m)
	return m, randomBatch(b, cfg, 2, 9, 2)
}

// TestLoRAInit checks PEFT's initialisation: A within kaiming_uniform(a=√5)'s bound 1/√in and
// spread over it, B zero, so the adapted model starts with the base's logits exactly.
func TestLoRAInit(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 1)
	in := randomBatch(b, cfg, 2, 9, 2)
	base := download(b, m.Forward(in.tokens, in.keyMask))
	if err := m.AttachLoRA(testLoRA, 7); err != nil {
		t.Fatal(err)
	}
	ts := m.Trainables()
	if want := 2 * (len(Modules)*cfg.Layers + 1); len(ts) != want {
		t.Fatalf("%d trainable tensors, want %d (A and B of 7 modules per block and the head)", len(ts), want)
	}
	for _, tr := range ts {
		v := download(b, tr.Param)
		switch {
		case strings.HasSuffix(tr.Name, ".lora_B.weight"):
			if slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
				t.Errorf("%s is not zero", tr.Name)
			}
		default:
			bound := 1 / math.Sqrt(float64(tr.Param.Dim(1)))
			var top float64
			for _, x := range v {
				top = math.Max(top, math.Abs(float64(x)))
			}
			if top > bound || top < 0.5*bound {
				t.Errorf("%s: max |A| = %g, want within (bound/2, bound], bound 1/√in = %g", tr.Name, top, bound)
			}
		}
	}
	if got := download(b, m.Forward(in.tokens, in.keyMask)); !slices.Equal(got, base) {
		t.Errorf("with B = 0 the adapted logits differ from the base's")
	}
}

// TestLoRAGradientDirectional checks the adapters' gradients against central differences of the
// loss, on a float32 base and on a base kept in BF16 (LoadDir16), and that the frozen base gets
// no gradient buffers.
func TestLoRAGradientDirectional(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	bf16, err := LoadDir16(filepath.Join(hfDir, "llada-tiny-bf16"), b)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Model{"f32": randomModel(t, b, cfg, 1), "bf16": New(b, bf16.Config, bf16.Params)} {
		t.Run(name, func(t *testing.T) {
			attachTestLoRA(t, m)
			m.AllocGrads()
			if m.Grads != nil {
				t.Fatal("a frozen base got gradient buffers")
			}
			if name == "bf16" && m.P.Blocks[0].Q.DType() != core.BF16 {
				t.Fatalf("the base weight is %v, want it kept BF16", m.P.Blocks[0].Q.DType())
			}
			in := randomBatch(b, m.Cfg, 3, 9, 2)
			// A smaller step than the full model's: the adapters' products make the loss
			// more curved along a direction that moves every A and B at once.
			checkDirectional(t, m, in, 2e-3, 2e-3)
		})
	}
}

// TestLoRAFrozenMemory counts what AllocGrads allocates: with LoRA, the adapters' gradients and
// one [D] scratch for the norms' gradients, nothing the size of a base weight; and checks that
// ActivationBytes + LoRAActivationBytes is what the forward's buffers (with the head's chunks) take.
func TestLoRAFrozenMemory(t *testing.T) {
	cfg := tinyConfig()
	b := &countingBackend{Backend: cpu.New()}
	m := randomModel(t, b, cfg, 1)
	in := randomBatch(b, cfg, 2, 9, 2)
	if err := m.AttachLoRA(testLoRA, 7); err != nil {
		t.Fatal(err)
	}
	b.bytes = 0
	m.Hidden(in.tokens, in.keyMask) // Forward adds its whole-logits buffer, which the chunked passes never take
	if want := int(cfg.ActivationBytes(2, 9) + cfg.LoRAActivationBytes(testLoRA, 2, 9)); b.bytes != want {
		t.Errorf("the activations with LoRA took %d bytes, ActivationBytes + LoRAActivationBytes say %d", b.bytes, want)
	}
	b.bytes = 0
	m.AllocGrads()
	want := 4 * (cfg.LoRAParams(testLoRA) + cfg.DModel)
	if b.bytes != want {
		t.Errorf("AllocGrads with LoRA allocated %d bytes, want %d (adapter gradients and one [D] norm scratch)", b.bytes, want)
	}
	if full := 4 * cfg.NumParams(); b.bytes*3 > full {
		t.Errorf("LoRA gradients take %d bytes, not far below the full model's %d", b.bytes, full)
	}
}

// countingBackend counts the bytes its Alloc hands out.
type countingBackend struct {
	core.Backend
	bytes int
}

func (c *countingBackend) Alloc(dtype core.DType, shape ...int) *core.Tensor {
	c.bytes += 4 * core.NumElems(shape)
	return c.Backend.Alloc(dtype, shape...)
}

// TestLoRAMerged checks MergedParams: a plain model of W + (α/r)·B·A gives the adapted model's
// logits within 2e-5 of their largest magnitude (the two compute the same sums in other orders
// in float32).
func TestLoRAMerged(t *testing.T) {
	m, in := adaptedTestModel(t)
	b, cfg := m.B, m.Cfg
	got := download(b, m.Forward(in.tokens, in.keyMask))
	want := download(b, New(b, cfg, m.MergedParams()).Forward(in.tokens, in.keyMask))
	var diff, top float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		top = math.Max(top, math.Abs(float64(want[i])))
	}
	if diff > 2e-5*top {
		t.Errorf("adapted vs merged logits: max |diff| %g, want ≤ 2e-5 × %g", diff, top)
	}
	base := download(b, New(b, cfg, m.P).Forward(in.tokens, in.keyMask))
	if slices.Equal(base, want) {
		t.Error("the merged model equals the base: the adapters changed nothing")
	}
}

// TestLoRAConfigValidate: each bad setting is refused with its key and value.
func TestLoRAConfigValidate(t *testing.T) {
	for _, c := range []struct {
		l    LoRAConfig
		want string
	}{
		{LoRAConfig{R: 0, Alpha: 1, Targets: Modules}, "r: 0"},
		{LoRAConfig{R: 4, Alpha: 0, Targets: Modules}, "alpha: 0"},
		{LoRAConfig{R: 4, Alpha: math.NaN(), Targets: Modules}, "alpha: NaN"},
		{LoRAConfig{R: 4, Alpha: 4, Dropout: 0.05, Targets: Modules}, "dropout: 0.05"},
		{LoRAConfig{R: 4, Alpha: 4}, "target_modules: empty"},
		{LoRAConfig{R: 4, Alpha: 4, Targets: []string{"q_proj", "o_proj"}}, `target_modules: "o_proj"`},
	} {
		err := c.l.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.l, err, c.want)
		}
	}
	if err := (LoRAConfig{R: 64, Alpha: 64, Targets: Modules}).Validate(); err != nil {
		t.Errorf("the official config is refused: %v", err)
	}
}

// TestLoRATargets checks PEFT's matching on LLaDA's names: q_proj adapts every block's q_proj and
// nothing else; ff_out every block's ff_out and the head model.transformer.ff_out.
func TestLoRATargets(t *testing.T) {
	cfg := tinyConfig()
	names := func(targets ...string) []string {
		var out []string
		for _, s := range cfg.loraSites(LoRAConfig{R: 1, Alpha: 1, Targets: targets}) {
			out = append(out, s.path)
		}
		return out
	}
	if got, want := names("q_proj"), []string{"model.transformer.blocks.0.q_proj", "model.transformer.blocks.1.q_proj"}; !slices.Equal(got, want) {
		t.Errorf("q_proj adapts %v, want %v", got, want)
	}
	if got, want := names("ff_out"), []string{"model.transformer.blocks.0.ff_out", "model.transformer.blocks.1.ff_out", "model.transformer.ff_out"}; !slices.Equal(got, want) {
		t.Errorf("ff_out adapts %v, want %v", got, want)
	}
}

// TestLoRAPyTorchParity compares the logits, the loss and every adapter gradient of LoRA on
// every module of the F32 test folder with PyTorch's float64 reference written from PEFT's
// definition (tools/reference/llada_hf.py lora), within checkParity's 1e-4 relative.
func TestLoRAPyTorchParity(t *testing.T) { RunLoRAParity(t, cpu.New()) }

// RunLoRAParity is TestLoRAPyTorchParity on any backend; the Vulkan tests call it too. The
// adapters come in through LoadAdapter from the folder the reference wrote as PEFT does
// (adapter_config.json, adapter_model.safetensors).
func RunLoRAParity(t *testing.T, b core.Backend) {
	dir := filepath.Join(hfDir, "lora-f32")
	ck, err := LoadDir(filepath.Join(hfDir, "llada-tiny-f32"), b)
	if err != nil {
		t.Fatal(err)
	}
	m := New(b, ck.Config, ck.Params)
	if err := m.LoadAdapter(dir); err != nil {
		t.Fatal(err)
	}
	if l := m.LoRA.Cfg; l.R != 4 || l.Alpha != 8 || len(m.LoRA.Adapters) != len(Modules)*ck.Config.Layers+1 {
		t.Fatalf("adapter config %+v with %d adapters, want r 4, alpha 8 on every module and the head", l, len(m.LoRA.Adapters))
	}
	checkModelParity(t, m, dir)
}

func download(b core.Backend, t *core.Tensor) []float32 {
	v := make([]float32, t.Len())
	b.Download(t, v)
	return v
}

// TestLoRAStepAllocs: a steady-state forward and backward with adapters allocates nothing, as
// without (TestTrainStepAllocs).
func TestLoRAStepAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count is measured in full runs")
	}
	m, in := adaptedTestModel(t)
	m.AllocGrads()
	dl := m.B.Alloc(core.F32, in.tokens.Dim(0), in.tokens.Dim(1), m.Cfg.VocabSize)
	step := func() {
		m.Forward(in.tokens, in.keyMask)
		m.Backward(dl)
	}
	step()
	if a := testing.AllocsPerRun(20, step); a != 0 {
		t.Errorf("steady-state LoRA forward and backward: %v allocations, want 0", a)
	}
}
