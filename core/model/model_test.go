package model

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/safetensors"
)

func tinyConfig() Config {
	return Config{VocabSize: 13, DModel: 16, Layers: 2, Heads: 2, MLPHidden: 24, MaxSeqLen: 12,
		RopeTheta: 10000, NormEps: 1e-5, MaskID: 12, EOSID: 11, PadID: 11}
}

// randomModel makes a model whose weights are large enough for non-uniform outputs.
func randomModel(t *testing.T, b core.Backend, cfg Config, seed uint64) *Model {
	t.Helper()
	p := NewParams(b, cfg)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, n := range p.List(cfg) {
		v := make([]float32, n.Tensor.Len())
		for i := range v {
			if n.Tensor.Rank() == 1 {
				v[i] = float32(1 + 0.2*rng.NormFloat64())
			} else {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(n.Tensor.Dim(1))))
			}
		}
		b.Upload(n.Tensor, v)
	}
	return New(b, cfg, p)
}

type batchInput struct {
	tokens, keyMask, targets, weights *core.Tensor
	tok, mask                         []int32
}

func randomBatch(b core.Backend, cfg Config, batch, seq int, seed uint64) batchInput {
	rng := rand.New(rand.NewPCG(seed, 2))
	tok, mask, tg := make([]int32, batch*seq), make([]int32, batch*seq), make([]int32, batch*seq)
	w := make([]float32, batch*seq)
	for i := range tok {
		tok[i] = int32(rng.IntN(cfg.VocabSize))
		tg[i] = int32(rng.IntN(cfg.VocabSize))
		mask[i] = 1
		w[i] = float32(rng.Float64())
	}
	mask[seq-1], w[seq-1] = 0, 0 // one padding key in row 0
	in := batchInput{tokens: b.Alloc(core.I32, batch, seq), keyMask: b.Alloc(core.I32, batch, seq),
		targets: b.Alloc(core.I32, batch*seq), weights: b.Alloc(core.F32, batch*seq), tok: tok, mask: mask}
	b.UploadInt(in.tokens, tok)
	b.UploadInt(in.keyMask, mask)
	b.UploadInt(in.targets, tg)
	b.Upload(in.weights, w)
	return in
}

// lossAndGrad runs forward + weighted cross-entropy + backward and returns the loss.
func lossAndGrad(m *Model, in batchInput, withGrad bool) float64 {
	b := m.B
	logits := m.Forward(in.tokens, in.keyMask)
	n := in.targets.Len()
	flat := logits.Reshape(n, m.Cfg.VocabSize)
	loss := b.Alloc(core.F32, 1)
	var dl *core.Tensor
	if withGrad {
		dl = b.Alloc(core.F32, logits.Shape()...)
		b.CrossEntropy(loss, dl.Reshape(n, m.Cfg.VocabSize), flat, in.targets, in.weights)
		m.Backward(dl)
	} else {
		b.CrossEntropy(loss, nil, flat, in.targets, in.weights)
	}
	v := make([]float32, 1)
	b.Download(loss, v)
	return float64(v[0])
}

// TestGradientDirectional checks the whole backward pass against a central difference of the
// float32 forward along random directions: (L(θ+εd) − L(θ−εd))/2ε ≈ ⟨∇L, d⟩. (Grouped-query
// attention's gradients are checked against PyTorch's float64 ones in parity_test.go: in float32
// the finite differences of a model with other head counts are too noisy for this tolerance.)
func TestGradientDirectional(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 1)
	in := randomBatch(b, cfg, 3, 9, 2)
	m.AllocGrads()
	checkDirectional(t, m, in, 1e-2, 2e-3)
}

// checkDirectional compares the gradients of m's trainable tensors with Richardson-extrapolated
// central differences of the loss along random directions of step eps, within rel relative
// error: three trials perturb one tensor each, the fourth all of them.
func checkDirectional(t *testing.T, m *Model, in batchInput, eps, rel float64) {
	t.Helper()
	b := m.B
	lossAndGrad(m, in, true)
	trainables := m.Trainables()
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := 0; trial < 4; trial++ {
		// Perturb one parameter tensor per trial plus, on the last trial, all of them at once.
		pick := rng.IntN(len(trainables))
		var analytic float64
		dirs := make([][]float32, len(trainables))
		orig := make([][]float32, len(trainables))
		for i, p := range trainables {
			if trial < 3 && i != pick {
				continue
			}
			dirs[i] = make([]float32, p.Param.Len())
			orig[i] = make([]float32, p.Param.Len())
			g := make([]float32, p.Param.Len())
			b.Download(p.Param, orig[i])
			b.Download(p.Grad, g)
			for j := range dirs[i] {
				dirs[i][j] = float32(rng.NormFloat64())
				analytic += float64(dirs[i][j]) * float64(g[j])
			}
		}
		eval := func(s float32) float64 {
			for i, p := range trainables {
				if dirs[i] == nil {
					continue
				}
				v := make([]float32, len(orig[i]))
				for j := range v {
					v[j] = orig[i][j] + s*dirs[i][j]
				}
				b.Upload(p.Param, v)
			}
			return lossAndGrad(m, in, false)
		}
		// Richardson extrapolation of two central differences cancels the O(ε²) term.
		d1 := (eval(float32(eps)) - eval(float32(-eps))) / (2 * eps)
		d2 := (eval(float32(eps/2)) - eval(float32(-eps/2))) / eps
		numeric := (4*d2 - d1) / 3
		eval(0)
		name := "all parameters"
		if trial < 3 {
			name = trainables[pick].Name
		}
		if r := math.Abs(numeric-analytic) / math.Max(math.Abs(numeric), 1e-3); r > rel {
			t.Errorf("%s: directional derivative %g, gradient gives %g (rel %.2g)", name, numeric, analytic, r)
		}
	}
}

// TestPaddingKeysAreInvisible: changing the token at a padding key leaves every real position's
// logits unchanged; changing a real token changes logits on both sides (no causal mask).
func TestPaddingKeysAreInvisible(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 4)
	in := randomBatch(b, cfg, 2, 9, 5)
	logits := func(tok []int32) []float32 {
		b.UploadInt(in.tokens, tok)
		out := m.Forward(in.tokens, in.keyMask)
		v := make([]float32, out.Len())
		b.Download(out, v)
		return v
	}
	base := logits(in.tok)
	changed := append([]int32(nil), in.tok...)
	changed[8] = (changed[8] + 1) % int32(cfg.VocabSize) // row 0's padding key
	after := logits(changed)
	v := cfg.VocabSize
	for i := 0; i < 2*9*v; i++ {
		pos := i / v
		if pos == 8 {
			continue // the padded position's own output may change
		}
		if base[i] != after[i] {
			t.Fatalf("logit %d (position %d) changed from %g to %g when a padding token changed", i, pos, base[i], after[i])
		}
	}
	changed = append([]int32(nil), in.tok...)
	changed[4] = (changed[4] + 1) % int32(cfg.VocabSize)
	after = logits(changed)
	if base[0] == after[0] || base[7*v] == after[7*v] {
		t.Fatal("changing a real token did not change logits at earlier and later positions")
	}
}

// TestBufferReuse: a smaller batch after a larger one (views of the same buffers) gives the
// same logits and gradients as a fresh model.
func TestBufferReuse(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	small := randomBatch(b, cfg, 2, 9, 7)
	run := func(m *Model) ([]float32, float64) {
		m.AllocGrads()
		m.Grads.Zero(b, cfg)
		l := lossAndGrad(m, small, true)
		var g []float32
		for _, t := range m.Grads.Tensors(cfg) {
			v := make([]float32, t.Len())
			b.Download(t, v)
			g = append(g, v...)
		}
		return g, l
	}
	fresh := randomModel(t, b, cfg, 6)
	g1, l1 := run(fresh)
	reused := randomModel(t, b, cfg, 6)
	big := randomBatch(b, cfg, 5, 9, 8)
	reused.Forward(big.tokens, big.keyMask)
	g2, l2 := run(reused)
	if l1 != l2 {
		t.Fatalf("loss %g after reuse, %g fresh", l2, l1)
	}
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatalf("gradient %d: %g after reuse, %g fresh", i, g2[i], g1[i])
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	m := randomModel(t, b, cfg, 9)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := Save(path, b, cfg, m.P, map[string]string{"step": "7"}); err != nil {
		t.Fatal(err)
	}
	ck, err := Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config != cfg || ck.Metadata["step"] != "7" || !ck.DataChecked {
		t.Fatalf("config %+v metadata %v", ck.Config, ck.Metadata)
	}
	for i, n := range m.P.List(cfg) {
		a, c := make([]float32, n.Tensor.Len()), make([]float32, n.Tensor.Len())
		b.Download(n.Tensor, a)
		b.Download(ck.Params.List(cfg)[i].Tensor, c)
		for j := range a {
			if a[j] != c[j] {
				t.Fatalf("%s[%d]: %g after round trip, want %g", n.Name, j, c[j], a[j])
			}
		}
	}
	other := cfg
	other.VocabSize = 40
	if err := ck.Config.Matches(other); err == nil || !strings.Contains(err.Error(), "vocab_size is 13, want 40") {
		t.Errorf("Matches: %v", err)
	}
}

// TestCheckpointErrors: every damaged or mismatched file is an error naming the file and the tensor.
func TestCheckpointErrors(t *testing.T) {
	b := cpu.New()
	cfg := tinyConfig()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := Save(good, b, cfg, NewParams(b, cfg), nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	f, err := safetensors.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, mutate func(ts map[string]safetensors.Tensor, c *Config)) string {
		ts := map[string]safetensors.Tensor{}
		for k, v := range f.Tensors {
			ts[k] = v
		}
		c := cfg
		mutate(ts, &c)
		p := filepath.Join(dir, name)
		if err := SaveTensors(p, c, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	q0 := "model.transformer.blocks.0.q_proj.weight"
	cases := map[string][]string{
		write("missing.safetensors", func(ts map[string]safetensors.Tensor, _ *Config) { delete(ts, q0) }): {"missing.safetensors", q0, "missing"},
		write("shape.safetensors", func(ts map[string]safetensors.Tensor, _ *Config) {
			ts[q0] = safetensors.FromFloat32(make([]float32, 16*8), 16, 8)
		}): {"shape.safetensors", q0, "[16 8]"},
		write("vocab.safetensors", func(_ map[string]safetensors.Tensor, c *Config) { c.VocabSize = 14 }): {"vocab.safetensors", "model.transformer.wte.weight", "[13 16]"},
		write("extra.safetensors", func(ts map[string]safetensors.Tensor, _ *Config) {
			ts["stray"] = safetensors.FromFloat32([]float32{1})
		}): {"extra.safetensors", "stray"},
		write("badcfg.safetensors", func(_ map[string]safetensors.Tensor, c *Config) { c.Heads = 3 }): {"badcfg.safetensors", "divisible"},
	}
	trunc := filepath.Join(dir, "trunc.safetensors")
	os.WriteFile(trunc, raw[:len(raw)-100], 0o644)
	cases[trunc] = []string{"trunc.safetensors", "truncated"}
	cases[filepath.Join(dir, "absent.safetensors")] = []string{"absent.safetensors", "no such file"}
	notOurs := filepath.Join(dir, "other.safetensors")
	os.WriteFile(notOurs, []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "), 0o644)
	cases[notOurs] = []string{"other.safetensors", "format"}
	flipped := filepath.Join(dir, "flipped.safetensors")
	bad := bytes.Clone(raw)
	bad[len(bad)-1000] ^= 1 // one bit of a parameter
	os.WriteFile(flipped, bad, 0o644)
	cases[flipped] = []string{"flipped.safetensors", "does not match its checksum"}
	trailing := filepath.Join(dir, "trailing.safetensors")
	os.WriteFile(trailing, append(bytes.Clone(raw), 0), 0o644)
	cases[trailing] = []string{"trailing.safetensors", "1 trailing bytes"}
	for path, want := range cases {
		_, err := Load(path, b)
		if err == nil {
			t.Errorf("%s: loaded without error", path)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", filepath.Base(path), err, w)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := tinyConfig()
	c.MaskID = 99
	c.NormEps = 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "mask_token_id = 99") || !strings.Contains(err.Error(), "rms_norm_eps") {
		t.Fatalf("Validate: %v", err)
	}
	gqa := tinyConfig()
	gqa.Heads, gqa.KVHeads = 4, 2
	for _, c := range []Config{tinyConfig(), gqa} {
		if n := c.NumParams(); n != len(flatParams(c)) {
			t.Fatalf("NumParams %d, shapes hold %d", n, len(flatParams(c)))
		}
	}
	gqa.KVHeads = 3
	if err := gqa.Validate(); err == nil || !strings.Contains(err.Error(), "n_kv_heads = 3") {
		t.Fatalf("Validate of 4 heads on 3 key/value heads: %v", err)
	}
}

func flatParams(c Config) []float32 {
	n := 0
	for _, s := range c.Shapes() {
		n += core.NumElems(s.Shape)
	}
	return make([]float32, n)
}
