package backendtest

import "github.com/dllmrl/agrpo/core"

// Counting wraps a backend and keeps the live bytes, and their peak, of the tensors it allocates
// whose shape Match accepts (every tensor when Match is nil): a memory test runs a pass through
// it and bounds the peak.
type Counting struct {
	core.Backend
	Match      func(shape []int) bool
	Live, Peak int64
	sizes      map[*core.Tensor]int64
}

// Alloc allocates through the wrapped backend and counts the tensor if it matches.
func (c *Counting) Alloc(dtype core.DType, shape ...int) *core.Tensor {
	t := c.Backend.Alloc(dtype, shape...)
	if c.Match != nil && !c.Match(shape) {
		return t
	}
	n := int64(t.Len()) * 4
	if dtype == core.BF16 || dtype == core.F16 {
		n = int64(t.Len()) * 2
	}
	if c.sizes == nil {
		c.sizes = make(map[*core.Tensor]int64)
	}
	c.sizes[t] = n
	c.Live += n
	c.Peak = max(c.Peak, c.Live)
	return t
}

// Free releases a tensor and uncounts it.
func (c *Counting) Free(t *core.Tensor) {
	c.Live -= c.sizes[t]
	delete(c.sizes, t)
	c.Backend.Free(t)
}
