package gemm

import (
	"math"

	"github.com/dllmrl/agrpo/core/half"
)

// Packed layouts (what the micro-kernels read):
//
//	A: mc rows cut into panels of mr rows; panel r holds, for each of the kc
//	   k-steps, its mr values of op(A) column k: dst[r·mr·kc + p·mr + i].
//	B: nc columns cut into panels of nr columns; panel s holds, for each
//	   k-step, nr values of op(B) row k: dst[s·nr·kc + p·nr + j].
//
// Panels past the matrix edge are zero-padded, so the micro-kernel always
// runs a full tile. Which of the two loops below a packer uses depends on
// whether the panel's short side is contiguous in memory (op is a transpose
// for A, not for B) or strided (a gather of several source rows).

// packA packs op(A)[ic:ic+mc, pc:pc+kc] into dst in mr-row panels.
func packA(dst []float32, p *params, ic, mc, pc, kc, mr int) {
	if p.transA {
		// op(A)[i][k] = a[k·lda + i]: each k-step is a contiguous run.
		packContig(dst, p.a, pc*p.lda+ic, p.lda, kc, mc, mr)
		return
	}
	// op(A)[i][k] = a[i·lda + k]: each panel gathers mr rows.
	for ir := 0; ir < mc; ir += mr {
		packGather(dst[ir*kc:ir*kc+mr*kc], p.a, (ic+ir)*p.lda+pc, p.lda, kc, mr, min(mr, mc-ir))
	}
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into dst in nr-column panels.
func packB(dst []float32, p *params, pc, kc, jc, nc, nr int) {
	if p.b16 != nil {
		packB16(dst, p, pc, kc, jc, nc, nr)
		return
	}
	if !p.transB {
		// op(B)[k][j] = b[k·ldb + j]: each k-step is a contiguous run.
		packContig(dst, p.b, pc*p.ldb+jc, p.ldb, kc, nc, nr)
		return
	}
	// op(B)[k][j] = b[j·ldb + k]: each panel gathers nr rows.
	for jr := 0; jr < nc; jr += nr {
		packGather(dst[jr*kc:jr*kc+nr*kc], p.b, (jc+jr)*p.ldb+pc, p.ldb, kc, nr, min(nr, nc-jr))
	}
}

// packContig packs `total` columns cut into w-wide panels, where k-step p
// of the block is the contiguous run src[off+p·ld : off+p·ld+total]. Rows
// go outer so the source streams sequentially (walking one panel down the
// rows instead would hit a new page per k-step, and with power-of-two
// strides the same L1 set every time).
func packContig(dst, src []float32, off, ld, kc, total, w int) {
	full := total / w
	if full > 0 && !packContigFast(dst, src, off, ld, kc, full, w) {
		for p := 0; p < kc; p++ {
			row := src[off+p*ld : off+p*ld+full*w]
			for q := 0; q < full; q++ {
				d := dst[q*w*kc+p*w : q*w*kc+p*w+w]
				if w == 4 {
					*(*[4]float32)(d) = [4]float32(row[q*4:])
				} else {
					copy(d, row[q*w:q*w+w])
				}
			}
		}
	}
	if rem := total - full*w; rem > 0 {
		base := full * w * kc
		for p := 0; p < kc; p++ {
			d := dst[base+p*w : base+p*w+w]
			copy(d, src[off+p*ld+full*w:off+p*ld+total])
			clear(d[rem:])
		}
	}
}

// packGather writes the kc-long source rows src[off+r·ld:], r < valid, as
// column r of the kc×w destination (dst[p·w + r]), zero-filling columns
// valid..w-1. The assembly packer, where there is one, does whole blocks of
// 8 k-steps of the first rows it covers; gatherRows does the rest.
func packGather(dst, src []float32, off, ld, kc, w, valid int) {
	dst = dst[:kc*w]
	rows, p0 := packGatherFast(dst, src, off, ld, kc, w, valid)
	gatherRows(dst, src, off, ld, kc, w, 0, rows, p0)
	gatherRows(dst, src, off, ld, kc, w, rows, valid, 0)
	if valid < w {
		for p := 0; p < kc; p++ {
			clear(dst[p*w+valid : p*w+w])
		}
	}
}

// gatherRows is packGather for source rows [r0, r1) and k-steps [p0, kc).
// Rows go four at a time so each destination group costs one bounds check
// and the four source streams stay sequential.
func gatherRows(dst, src []float32, off, ld, kc, w, r0, r1, p0 int) {
	if p0 >= kc {
		return
	}
	r := r0
	for ; r+4 <= r1; r += 4 {
		s0 := src[off+r*ld+p0 : off+r*ld+kc]
		s1 := src[off+(r+1)*ld+p0 : off+(r+1)*ld+kc]
		s2 := src[off+(r+2)*ld+p0 : off+(r+2)*ld+kc]
		s3 := src[off+(r+3)*ld+p0 : off+(r+3)*ld+kc]
		s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
		for p := range s0 {
			d := (*[4]float32)(dst[(p0+p)*w+r:])
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; r < r1; r++ {
		s := src[off+r*ld+p0 : off+r*ld+kc]
		for p, v := range s {
			dst[(p0+p)*w+r] = v
		}
	}
}

// packB16 is packB for a 16-bit B, widening each value as it is placed. Each loop reads B's
// stored rows contiguously; bfloat16, the common case, is widened inline (a shift).
func packB16(dst []float32, p *params, pc, kc, jc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		panel := dst[jr*kc : jr*kc+nr*kc]
		valid := min(nr, nc-jr)
		if p.transB {
			// op(B)[k][j] = b[j·ldb + k]: column j of the panel is a stored row.
			for j := 0; j < valid; j++ {
				row := p.b16[(jc+jr+j)*p.ldb+pc : (jc+jr+j)*p.ldb+pc+kc]
				if p.half {
					for q, h := range row {
						panel[q*nr+j] = half.F16ToFloat32(h)
					}
				} else {
					for q, h := range row {
						panel[q*nr+j] = math.Float32frombits(uint32(h) << 16)
					}
				}
			}
		} else {
			// op(B)[k][j] = b[k·ldb + j]: each k-step of the panel is a stored row's run.
			for q := 0; q < kc; q++ {
				row := p.b16[(pc+q)*p.ldb+jc+jr : (pc+q)*p.ldb+jc+jr+valid]
				d := panel[q*nr : q*nr+valid]
				if p.half {
					for j, h := range row {
						d[j] = half.F16ToFloat32(h)
					}
				} else {
					for j, h := range row {
						d[j] = math.Float32frombits(uint32(h) << 16)
					}
				}
			}
		}
		if valid < nr {
			for q := 0; q < kc; q++ {
				clear(panel[q*nr+valid : q*nr+nr])
			}
		}
	}
}
