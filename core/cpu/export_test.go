package cpu

// NewWithAttnTile returns a backend whose attention kernels use tile-length tiles, so tests
// can exercise multi-tile online softmax at small sequence lengths.
func NewWithAttnTile(tile int) *Backend {
	b := New()
	b.attnTile = tile
	return b
}
