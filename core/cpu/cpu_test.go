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
