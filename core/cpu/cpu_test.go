package cpu_test

import (
	"testing"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/backendtest"
	"github.com/dllmrl/agrpo/core/cpu"
)

// TestBackendSuite holds the CPU backend to the shared definition of every op.
func TestBackendSuite(t *testing.T) {
	backendtest.Run(t, func() core.Backend { return cpu.New() })
}

// TestBackendSuiteSmallAttnTiles runs the suite with attention tiles much shorter than its
// sequences, so the online softmax crosses key tiles and gradients accumulate across tiles.
func TestBackendSuiteSmallAttnTiles(t *testing.T) {
	for _, tile := range []int{1, 4, 7} {
		backendtest.Run(t, func() core.Backend { return cpu.NewWithAttnTile(tile) })
	}
}
