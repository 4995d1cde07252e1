package model

import (
	"math"
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
)

// TestHeadChunks: the head in chunks of 5 rows (chunks that cut through sequences, the last one
// short) gives Forward's logits bit for bit, and a backward chunk by chunk gives Backward's
// gradients, up to the order in which the head's weight gradient adds the chunks; also with
// LoRA adapters on every module, the head's included (its adapter then runs per chunk).
func TestHeadChunks(t *testing.T) {
	for _, lora := range []bool{false, true} {
		testHeadChunks(t, lora)
	}
}

func testHeadChunks(t *testing.T, lora bool) {
	b := cpu.New()
	cfg := tinyConfig()
	const batch, seq, rows = 3, 12, 5
	whole, chunked := randomModel(t, b, cfg, 4), randomModel(t, b, cfg, 4)
	if lora {
		attachTestLoRA(t, whole)
		attachTestLoRA(t, chunked)
		if whole.adapter(headModule) == nil {
			t.Fatal("testLoRA does not adapt the head")
		}
	}
	whole.AllocGrads()
	chunked.AllocGrads()
	chunked.ChunkBytes = 4 * cfg.VocabSize * rows
	in := randomBatch(b, cfg, batch, seq, 5)
	n, v := batch*seq, cfg.VocabSize

	want := make([]float32, n*v)
	b.Download(whole.Forward(in.tokens, in.keyMask), want)
	chunked.Hidden(in.tokens, in.keyMask)
	if chunked.Rows() != n || chunked.MaxChunk() != seq {
		t.Fatalf("rows %d, chunks of %d; want %d, %d (a chunk holds at least one sequence)", chunked.Rows(), chunked.MaxChunk(), n, seq)
	}
	got := make([]float32, n*v)
	for lo := 0; lo < n; lo += rows {
		hi := min(lo+rows, n)
		b.Download(chunked.Logits(lo, hi), got[lo*v:hi*v])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d (LoRA %v): %g in chunks, %g at once", i, lora, got[i], want[i])
		}
	}

	// The loss Σ dl·logits with a fixed random dl.
	dl := make([]float32, n*v)
	for i := range dl {
		dl[i] = float32(math.Sin(float64(i)))
	}
	dlT := b.Alloc(core.F32, batch, seq, v)
	b.Upload(dlT, dl)
	whole.Backward(dlT)
	for lo := 0; lo < n; lo += rows {
		hi := min(lo+rows, n)
		d := chunked.DLogits(lo, hi)
		b.Upload(d, dl[lo*v:hi*v])
		chunked.HeadBackward(d, lo, hi)
	}
	chunked.BackwardHidden()
	for i, g := range whole.Trainables() {
		gw, gc := make([]float32, g.Grad.Len()), make([]float32, g.Grad.Len())
		b.Download(g.Grad, gw)
		b.Download(chunked.Trainables()[i].Grad, gc)
		var num, den float64
		for k := range gw {
			num += float64(gc[k]-gw[k]) * float64(gc[k]-gw[k])
			den += float64(gw[k]) * float64(gw[k])
		}
		if e := math.Sqrt(num / den); e > 1e-6 {
			t.Errorf("%s (LoRA %v): chunked gradient off by %.2g (relative L2)", g.Name, lora, e)
		}
	}
}
