//go:build linux && cgo

package vulkan

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
)

// BenchmarkMatMul1024 times C = A·B at 1024³ (one recorded dispatch and a Sync per iteration)
// and reports GFLOP/s; the lavapipe target is ≥ 6.
func BenchmarkMatMul1024(b *testing.B) {
	be, err := New(Options{Device: Auto, AllowCPU: true})
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	defer be.Close()
	const n = 1024
	v := make([]float32, n*n)
	for i := range v {
		v[i] = float32(i%7) - 3
	}
	x, y, c := be.Alloc(core.F32, n, n), be.Alloc(core.F32, n, n), be.Alloc(core.F32, n, n)
	be.Upload(x, v)
	be.Upload(y, v)
	be.MatMul(c, x, y, false, false, 1, 0) // warm-up: pipeline creation and JIT
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		be.MatMul(c, x, y, false, false, 1, 0)
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
