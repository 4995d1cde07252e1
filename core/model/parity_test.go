package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
)

// parityDir holds the PyTorch fixtures; tools/reference/README.md says how to regenerate them.
var parityDir = filepath.Join("..", "..", "testdata", "parity")

// TestPyTorchParity loads the checkpoint that tools/reference/mkparity wrote, runs the forward,
// the masked-diffusion-weighted cross-entropy and the backward, and compares logits, loss and
// every parameter gradient with PyTorch's float64 results (tools/reference/parity.py).
func TestPyTorchParity(t *testing.T) {
	RunParity(t, cpu.New())
}

// RunParity is the parity check on any backend; the Vulkan backend's tests call it too.
func RunParity(t *testing.T, b core.Backend) {
	ck, err := Load(filepath.Join(parityDir, "model.safetensors"), b)
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, b, ck, parityDir)
}

// hfDir holds the test-sized LLaDA folders in the Hugging Face layout and their PyTorch
// fixtures (tools/reference/llada_hf.py): grouped-query attention (4 query heads on 2 key/value
// heads), embedding_size 384 above vocab_size 380, BF16 weights in two shards with an index, and
// the same model in F32 in one file.
var hfDir = filepath.Join("..", "..", "testdata", "hf")

// TestHFParity loads both folders and compares logits, loss and every parameter gradient with
// the float64 reference written from LLaDA's modeling code (within 1e-4 relative, as for the
// project's own checkpoints): the BF16 model's reference uses the same BF16 values widened, so
// the comparison measures the engine, not the rounding.
func TestHFParity(t *testing.T) { RunHFParity(t, cpu.New()) }

// RunHFParity is TestHFParity on any backend; the Vulkan backend's tests call it too.
func RunHFParity(t *testing.T, b core.Backend) {
	for _, dt := range []string{"bf16", "f32"} {
		t.Run(dt, func(t *testing.T) {
			ck, err := LoadDir(filepath.Join(hfDir, "llada-tiny-"+dt), b)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Config.KVHeadCount() != 2 || ck.Config.Heads != 4 {
				t.Fatalf("fixture config %+v: want 4 heads on 2 key/value heads", ck.Config)
			}
			checkParity(t, b, ck, filepath.Join(hfDir, "parity-"+dt))
		})
	}
}

// checkParity runs ck on the inputs in dir and compares with dir's expected.safetensors.
func checkParity(t *testing.T, b core.Backend, ck *Checkpoint, dir string) {
	checkModelParity(t, New(b, ck.Config, ck.Params), dir)
}

// checkModelParity runs m on the inputs in dir and compares the logits, the loss and the
// gradient of every trainable tensor (grad.<name>) with dir's expected.safetensors.
func checkModelParity(t *testing.T, m *Model, dir string) {
	in := readFixture(t, dir, "inputs.safetensors")
	want := readFixture(t, dir, "expected.safetensors")
	b, cfg := m.B, m.Cfg
	tokShape := in.Tensors["tokens"].Shape
	batch, seq := tokShape[0], tokShape[1]
	n := batch * seq
	upI := func(name string, shape ...int) *core.Tensor {
		v, err := in.Tensors[name].Int32()
		if err != nil {
			t.Fatalf("inputs %s: %v", name, err)
		}
		x := b.Alloc(core.I32, shape...)
		b.UploadInt(x, v)
		return x
	}
	tokens, keyMask, targets := upI("tokens", batch, seq), upI("key_mask", batch, seq), upI("targets", n)
	wv, err := in.Tensors["weights"].Float32()
	if err != nil {
		t.Fatal(err)
	}
	weights := b.Alloc(core.F32, n)
	b.Upload(weights, wv)

	m.AllocGrads()
	logits := m.Forward(tokens, keyMask)
	loss := b.Alloc(core.F32, 1)
	dl := b.Alloc(core.F32, logits.Shape()...)
	b.CrossEntropy(loss, dl.Reshape(n, cfg.VocabSize), logits.Reshape(n, cfg.VocabSize), targets, weights)
	m.Backward(dl)

	const tol = 1e-4
	compare := func(name string, got *core.Tensor) {
		t.Helper()
		ref, ok := want.Tensors[name]
		if !ok {
			t.Fatalf("expected.safetensors has no %s", name)
		}
		rv, err := ref.Float32()
		if err != nil {
			t.Fatal(err)
		}
		gv := make([]float32, got.Len())
		b.Download(got, gv)
		if len(gv) != len(rv) {
			t.Fatalf("%s: %d values, reference has %d", name, len(gv), len(rv))
		}
		var num, den float64
		for i := range gv {
			d := float64(gv[i]) - float64(rv[i])
			num += d * d
			den += float64(rv[i]) * float64(rv[i])
		}
		rel := math.Sqrt(num / den)
		if !(rel <= tol) {
			t.Errorf("%s: relative error %.3g against PyTorch, want ≤ %g", name, rel, tol)
		} else if testing.Verbose() {
			t.Logf("%-45s rel err %.2g", name, rel)
		}
	}
	compare("logits", logits)
	compare("loss", loss)
	for _, p := range m.Trainables() {
		compare(fmt.Sprintf("grad.%s", p.Name), p.Grad)
	}
}

func readFixture(t *testing.T, dir, name string) *safetensors.File {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("reading fixture (regenerate with tools/reference/README.md): %v", err)
	}
	f, err := safetensors.Parse(raw)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return f
}
