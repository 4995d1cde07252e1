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
	body := embeddingBody{o: f32(out), id: i32(ids), v: v, d: d}
	if table.DType() == core.BF16 || table.DType() == core.F16 {
		body.t16, body.widen = u16(table)
	} else {
		body.t = f32(table)
	}
	parallel(b, n, 64, body)
}

type embeddingBody struct {
	o, t  []float32
	t16   []uint16 // a 16-bit table, widened row by row, instead of t
	widen func(uint16) float32
	id    []int32
	v, d  int
}

func (e *embeddingBody) run(_, lo, hi int) {
	o, t, id, v, d := e.o, e.t, e.id, e.v, e.d
	for i := lo; i < hi; i++ {
		tok := int(id[i])
		if tok < 0 || tok >= v {
			panic(fmt.Sprintf("cpu: embedding id %d out of range [0,%d)", tok, v))
		}
		if e.t16 != nil {
			row := o[i*d : (i+1)*d]
			for j, h := range e.t16[tok*d : (tok+1)*d] {
				row[j] = e.widen(h)
			}
			continue
		}
		copy(o[i*d:(i+1)*d], t[tok*d:(tok+1)*d])
	}
}

// EmbeddingBackward scatter-adds gradient rows into dTable. Rows are split over workers by
// table row (each worker owns a range of token ids), so no two workers write one row.
func (b *Backend) EmbeddingBackward(dTable, dOut, ids *core.Tensor) {
	v, d := dTable.Dim(0), dTable.Dim(1)
	n := ids.Len()
	if dOut.Len() != n*d {
		panic(fmt.Sprintf("cpu: embedding backward %v with ids %v into %v", dOut, ids, dTable))
	}
	parallel(b, v, 1, embeddingBwBody{dt: f32(dTable), g: f32(dOut), id: i32(ids), n: n, d: d})
}

type embeddingBwBody struct {
	dt, g []float32
	id    []int32
	n, d  int
}

func (e *embeddingBwBody) run(_, lo, hi int) {
	dt, g, id, n, d := e.dt, e.g, e.id, e.n, e.d
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
}
