//go:build amd64 && !purego

#include "textflag.h"

// func gather6x8(dst, src *float32, ld, blocks int)
//
// Packs 6 source rows (stride ld floats) as dst[p·6 + r], 8 k-steps per
// block: an 8×8 AVX2 transpose with two zero rows, stored with overlapping
// 8-wide stores (each next store overwrites the two padding lanes).
TEXT ·gather6x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ blocks+24(FP), CX
	LEAQ (R8)(R8*2), R9
	TESTQ CX, CX
	JZ   g6done
g6loop:
	LEAQ (SI)(R8*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VXORPS Y14, Y14, Y14
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y14, Y13, Y6
	VSHUFPS $0xEE, Y14, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS X15, 168(DI)
	VEXTRACTF128 $1, Y15, X15
	VMOVQ X15, 184(DI)
	ADDQ $32, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  g6loop
g6done:
	VZEROUPPER
	RET

// func gather8x8(dst *float32, dstStride int, src *float32, ld, blocks int)
//
// Transposes 8 source rows (stride ld floats) into dst[p·dstStride + r],
// 8 k-steps per block; packing a 16-wide panel of Bᵀ is two calls.
TEXT ·gather8x8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R8
	SHLQ $2, R8
	MOVQ blocks+32(FP), CX
	LEAQ (R8)(R8*2), R9
	LEAQ (DX)(DX*2), R11
	TESTQ CX, CX
	JZ   g8done
g8loop:
	LEAQ (SI)(R8*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	LEAQ (DI)(DX*4), R12
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R12)
	VMOVUPS Y13, (R12)(DX*1)
	VMOVUPS Y14, (R12)(DX*2)
	VMOVUPS Y15, (R12)(R11*1)
	ADDQ $32, SI
	LEAQ (R12)(DX*4), DI
	DECQ CX
	JNZ  g8loop
g8done:
	VZEROUPPER
	RET

// func copyPanels16(dst, src *float32, ld, kc, panels, panelStride int)
//
// For each of kc source rows (stride ld floats) copies 16 floats into each
// of `panels` consecutive 16-wide panels: dst[q·panelStride + p·16 + j] =
// src[p·ld + q·16 + j]. Rows go in groups of up to 4: within a group the
// panels are visited in turn and each receives its 4 rows as one
// contiguous run, so the writes stream (one row at a time across all
// panels touches lines a power-of-two stride apart, which thrash one L1
// set), while the 4 source row segments stay in L1 across the group.
TEXT ·copyPanels16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	MOVQ panels+32(FP), R9
	MOVQ panelStride+40(FP), DX
	SHLQ $2, DX
	TESTQ R9, R9
	JZ   c16done
c16group:
	TESTQ CX, CX
	JLE  c16done
	MOVQ $4, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	// R12 = rows in this group
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R9, R10
c16panel:
	MOVQ AX, R11
	MOVQ BX, R13
	MOVQ R12, R14
c16row:
	VMOVUPS (R11), Y0
	VMOVUPS 32(R11), Y1
	VMOVUPS Y0, (R13)
	VMOVUPS Y1, 32(R13)
	ADDQ $64, R13
	ADDQ R8, R11
	DECQ R14
	JNZ  c16row
	ADDQ $64, AX
	ADDQ DX, BX
	DECQ R10
	JNZ  c16panel
	// next group: src += rows·ld, dst += rows·w floats
	MOVQ R12, AX
	IMULQ R8, AX
	ADDQ AX, SI
	IMUL3Q $64, R12, AX
	ADDQ AX, DI
	SUBQ R12, CX
	JMP  c16group
c16done:
	VZEROUPPER
	RET

// func copyPanels6(dst, src *float32, ld, kc, panels, panelStride int)
//
// For each of kc source rows (stride ld floats) copies 6 floats into each
// of `panels` consecutive 6-wide panels: dst[q·panelStride + p·6 + j] =
// src[p·ld + q·6 + j]. Rows go in groups of up to 4: within a group the
// panels are visited in turn and each receives its 4 rows as one
// contiguous run, so the writes stream (one row at a time across all
// panels touches lines a power-of-two stride apart, which thrash one L1
// set), while the 4 source row segments stay in L1 across the group.
TEXT ·copyPanels6(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	MOVQ panels+32(FP), R9
	MOVQ panelStride+40(FP), DX
	SHLQ $2, DX
	TESTQ R9, R9
	JZ   c6done
c6group:
	TESTQ CX, CX
	JLE  c6done
	MOVQ $4, R12
	CMPQ CX, R12
	CMOVQLT CX, R12
	// R12 = rows in this group
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R9, R10
c6panel:
	MOVQ AX, R11
	MOVQ BX, R13
	MOVQ R12, R14
c6row:
	VMOVUPS (R11), X0
	MOVQ 16(R11), R15
	VMOVUPS X0, (R13)
	MOVQ R15, 16(R13)
	ADDQ $24, R13
	ADDQ R8, R11
	DECQ R14
	JNZ  c6row
	ADDQ $24, AX
	ADDQ DX, BX
	DECQ R10
	JNZ  c6panel
	// next group: src += rows·ld, dst += rows·w floats
	MOVQ R12, AX
	IMULQ R8, AX
	ADDQ AX, SI
	IMUL3Q $24, R12, AX
	ADDQ AX, DI
	SUBQ R12, CX
	JMP  c6group
c6done:
	VZEROUPPER
	RET
