package core

import "fmt"

// A support is the set of token ids a row's sampling distribution was restricted to. It is
// recorded sparsely, because a dense [rows, V] mask is gigabytes at a real vocabulary while a
// row's support is almost always "every token but the mask id" (no top-k/top-p cut) or a short
// list of kept ids (a cut). One row's entries are:
//
//   - none: every token;
//   - one negative entry −(id+1): every token but id (AllBut);
//   - ascending non-negative ids: only those tokens.
//
// EncodeSupport lays N rows out as the I32 tensor that TokenLogProbs and SelectionLogProbs read:
// a header of N+1 entries, then the rows' entries one after the other. Header entry r is the
// distance from position r to the first entry of row r, so row r spans
// [r + enc[r], r + 1 + enc[r+1]). The distances are relative so that enc[lo:] is the encoding of
// rows lo.. on its own: a chunk of rows is a view, not a copy.

// AllBut is the support entry of every token but id.
func AllBut(id int32) []int32 { return []int32{-id - 1} }

// EncodeSupport lays out the supports of rows (nil = every token) as described above.
func EncodeSupport(rows [][]int32) []int32 {
	n, total := len(rows), 0
	for _, r := range rows {
		total += len(r)
	}
	enc := make([]int32, n+1, n+1+total)
	at := n + 1
	for r, entries := range rows {
		enc[r] = int32(at - r)
		at += len(entries)
		enc = append(enc, entries...)
	}
	enc[n] = int32(at - n)
	return enc
}

// SupportRow returns row r's entries in an encoding.
func SupportRow(enc []int32, r int) []int32 {
	return enc[r+int(enc[r]) : r+1+int(enc[r+1])]
}

// InSupport reports whether token j belongs to a row's support given its entries.
func InSupport(entries []int32, j int32) bool {
	switch {
	case len(entries) == 0:
		return true
	case entries[0] < 0:
		return j != -entries[0]-1
	}
	lo, hi := 0, len(entries)
	for lo < hi {
		mid := (lo + hi) / 2
		if entries[mid] < j {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(entries) && entries[lo] == j
}

// CheckSupport reports the first inconsistency of an encoding of n rows over a vocabulary of v:
// a header out of range, an AllBut entry that is not alone, an id outside [0, v), or kept ids
// not strictly ascending.
func CheckSupport(enc []int32, n, v int) error {
	if len(enc) < n+1 {
		return fmt.Errorf("support encoding has %d entries, fewer than the %d of its header", len(enc), n+1)
	}
	for r := 0; r < n; r++ {
		lo, hi := r+int(enc[r]), r+1+int(enc[r+1])
		if lo < n+1 || hi < lo || hi > len(enc) {
			return fmt.Errorf("support row %d spans [%d, %d) outside the entries [%d, %d)", r, lo, hi, n+1, len(enc))
		}
		e := enc[lo:hi]
		if len(e) > 0 && e[0] < 0 {
			if len(e) != 1 || -int(e[0])-1 >= v {
				return fmt.Errorf("support row %d: an excluded id (%d) must be alone and inside the vocabulary of %d", r, -int(e[0])-1, v)
			}
			continue
		}
		for i, id := range e {
			if id < 0 || int(id) >= v || i > 0 && id <= e[i-1] {
				return fmt.Errorf("support row %d: kept id %d at %d is outside [0, %d) or not ascending", r, id, i, v)
			}
		}
	}
	return nil
}
