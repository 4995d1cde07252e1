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

// The row copies of copyPanels: w floats from (R11) to (R13).
#define ROW6 \
	VMOVUPS (R11), X0; \
	MOVQ 16(R11), R15; \
	VMOVUPS X0, (R13); \
	MOVQ R15, 16(R13)

#define ROW12 \
	VMOVUPS (R11), Y0; \
	VMOVUPS 32(R11), X1; \
	VMOVUPS Y0, (R13); \
	VMOVUPS X1, 32(R13)

#define ROW16 \
	VMOVUPS (R11), Y0; \
	VMOVUPS 32(R11), Y1; \
	VMOVUPS Y0, (R13); \
	VMOVUPS Y1, 32(R13)

#define ROW32 \
	VMOVUPS (R11), Y0; \
	VMOVUPS 32(R11), Y1; \
	VMOVUPS 64(R11), Y2; \
	VMOVUPS 96(R11), Y3; \
	VMOVUPS Y0, (R13); \
	VMOVUPS Y1, 32(R13); \
	VMOVUPS Y2, 64(R13); \
	VMOVUPS Y3, 96(R13)

// COPY_PANELS is copyPanels's loop for one width, WB = 4·w bytes, ROW its
// row copy (one body per width: testing the width per row cost 2.5× on
// 6-wide panels); group, panel and row name its labels. It ends by jumping
// to done.
#define COPY_PANELS(WB, ROW, group, panel, row) \
	MOVQ CX, DX; \
	IMULQ $WB, DX; \
group: \
	TESTQ CX, CX; \
	JLE  done; \
	MOVQ $4, R12; \
	CMPQ CX, R12; \
	CMOVQLT CX, R12; \
	MOVQ SI, AX; \
	MOVQ DI, BX; \
	MOVQ R9, R10; \
panel: \
	MOVQ AX, R11; \
	MOVQ BX, R13; \
	MOVQ R12, R14; \
row: \
	ROW; \
	ADDQ $WB, R13; \
	ADDQ R8, R11; \
	DECQ R14; \
	JNZ  row; \
	ADDQ $WB, AX; \
	ADDQ DX, BX; \
	DECQ R10; \
	JNZ  panel; \
	MOVQ R12, AX; \
	IMULQ R8, AX; \
	ADDQ AX, SI; \
	IMULQ $WB, R12; \
	ADDQ R12, DI; \
	SUBQ $4, CX; \
	JMP  group

// func copyPanels(dst, src *float32, ld, kc, panels, w int), w = 6, 12, 16 or 32
//
// For each of kc source rows (stride ld floats) copies w floats into each
// of `panels` consecutive w-wide panels: dst[q·w·kc + p·w + j] =
// src[p·ld + q·w + j]. Rows go in groups of up to 4: within a group the
// panels are visited in turn and each receives its 4 rows as one
// contiguous run, so the writes stream (one row at a time across all
// panels touches lines a power-of-two stride apart, which thrash one L1
// set), while the 4 source row segments stay in L1 across the group.
TEXT ·copyPanels(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ kc+24(FP), CX
	MOVQ panels+32(FP), R9
	MOVQ w+40(FP), AX
	TESTQ R9, R9
	JZ   done
	CMPQ AX, $6
	JEQ  w6
	CMPQ AX, $12
	JEQ  w12
	CMPQ AX, $16
	JEQ  w16
	COPY_PANELS(128, ROW32, g32, p32, r32)
w16:
	COPY_PANELS(64, ROW16, g16, p16, r16)
w12:
	COPY_PANELS(48, ROW12, g12, p12, r12)
w6:
	COPY_PANELS(24, ROW6, g6, p6, r6)
done:
	VZEROUPPER
	RET
