package cpu

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
)

// Embedding gathers table rows by id.
func (b *Backend) Embedding(out, table, ids *core.Tensor) {
	v, d := table.Dim(0), table.Dim(1)
	n := ids.Len()
	if out.Len() != n*d {
		panic(fmt.Sprintf("cpu: embedding %v rows of %v into %v", ids, table, out))
	}
	o, t, id := f32(out), f32(table), i32(ids)
	b.parallel(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tok := int(id[i])
			if tok < 0 || tok >= v {
				panic(fmt.Sprintf("cpu: embedding id %d out of range [0,%d)", tok, v))
			}
			copy(o[i*d:(i+1)*d], t[tok*d:(tok+1)*d])
		}
	})
}

// EmbeddingBackward scatter-adds gradient rows into dTable. Rows are split over workers by
// table row (each worker owns a range of token ids), so no two workers write one row.
func (b *Backend) EmbeddingBackward(dTable, dOut, ids *core.Tensor) {
	v, d := dTable.Dim(0), dTable.Dim(1)
	n := ids.Len()
	if dOut.Len() != n*d {
		panic(fmt.Sprintf("cpu: embedding backward %v with ids %v into %v", dOut, ids, dTable))
	}
	dt, g, id := f32(dTable), f32(dOut), i32(ids)
	b.parallel(v, 1, func(lo, hi int) {
		for i := 0; i < n; i++ {
			tok := int(id[i])
			if tok < lo || tok >= hi {
				continue
			}
			row, src := dt[tok*d:(tok+1)*d], g[i*d:(i+1)*d]
			for j := range row {
				row[j] += src[j]
			}
		}
	})
}
