//go:build amd64 && !purego

#include "textflag.h"

// One k-step of the 6×16 tile: two ymm loads of the B row (16 floats at
// DI), then for each of the 6 rows a broadcast of its A value and two FMAs
// into that row's accumulators. Row i of A is at SI + i·rsA (R11 = rsA,
// R12 = 3·rsA, R13 = SI + 3·rsA), so the same code reads packed panels
// (rsA = 4 bytes) and row-major A in place (rsA = lda). Y2/Y3 alternate as
// the broadcast register so consecutive rows do not serialise on one.
#define KSTEP \
	VMOVUPS (DI), Y0; \
	VMOVUPS 32(DI), Y1; \
	VBROADCASTSS (SI), Y2; \
	VFMADD231PS Y0, Y2, Y4; \
	VFMADD231PS Y1, Y2, Y5; \
	VBROADCASTSS (SI)(R11*1), Y3; \
	VFMADD231PS Y0, Y3, Y6; \
	VFMADD231PS Y1, Y3, Y7; \
	VBROADCASTSS (SI)(R11*2), Y2; \
	VFMADD231PS Y0, Y2, Y8; \
	VFMADD231PS Y1, Y2, Y9; \
	VBROADCASTSS (SI)(R12*1), Y3; \
	VFMADD231PS Y0, Y3, Y10; \
	VFMADD231PS Y1, Y3, Y11; \
	VBROADCASTSS (SI)(R11*4), Y2; \
	VFMADD231PS Y0, Y2, Y12; \
	VFMADD231PS Y1, Y2, Y13; \
	VBROADCASTSS (R13)(R11*2), Y3; \
	VFMADD231PS Y0, Y3, Y14; \
	VFMADD231PS Y1, Y3, Y15; \
	ADDQ R14, SI; \
	ADDQ R14, R13; \
	ADDQ R10, DI

// C row (at DX) = acc (already scaled by alpha) + beta(Y1)·C row.
#define STORE_BETA(lo, hi) \
	VFMADD231PS (DX), Y1, lo; \
	VFMADD231PS 32(DX), Y1, hi; \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ R8, DX

// C row (at DX) = acc, C not read (beta == 0: NaNs in C must not leak).
#define STORE_ZERO(lo, hi) \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ R8, DX

// func sgemmKernel6x16(kc int, a *float32, rsA, csA int, b *float32, csB int, c *float32, ldc int, alpha, beta float32)
//
// C[6×16] = alpha·A·B + beta·C over kc k-steps, where A(i,p) is at
// a[i·rsA + p·csA] and the 16-float row p of B at b[p·csB] (strides in
// floats): packed panels are rsA=1, csA=6, csB=16. Y4..Y15 accumulate row
// i in Y(4+2i) (columns 0-7) and Y(5+2i) (8-15): 12 independent FMA chains
// cover the 4-cycle latency of two FMA pipes.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-72
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsA+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (SI)(R12*1), R13
	MOVQ csA+24(FP), R14
	SHLQ $2, R14
	MOVQ b+32(FP), DI
	MOVQ csB+40(FP), R10
	SHLQ $2, R10
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8

	// Pull the C tile toward L1 while the k loop runs (two lines per row:
	// a row of 16 floats need not be line-aligned).
	MOVQ DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   tail

loop4: // 4 k-steps per iteration
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	DECQ BX
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   store

loop1:
	KSTEP
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+64(FP), Y0
	VMULPS Y0, Y4, Y4
	VMULPS Y0, Y5, Y5
	VMULPS Y0, Y6, Y6
	VMULPS Y0, Y7, Y7
	VMULPS Y0, Y8, Y8
	VMULPS Y0, Y9, Y9
	VMULPS Y0, Y10, Y10
	VMULPS Y0, Y11, Y11
	VMULPS Y0, Y12, Y12
	VMULPS Y0, Y13, Y13
	VMULPS Y0, Y14, Y14
	VMULPS Y0, Y15, Y15
	MOVL beta+68(FP), AX
	TESTL $0x7fffffff, AX // beta == ±0?
	JZ   store0
	VBROADCASTSS beta+68(FP), Y1
	STORE_BETA(Y4, Y5)
	STORE_BETA(Y6, Y7)
	STORE_BETA(Y8, Y9)
	STORE_BETA(Y10, Y11)
	STORE_BETA(Y12, Y13)
	STORE_BETA(Y14, Y15)
	VZEROUPPER
	RET

store0:
	STORE_ZERO(Y4, Y5)
	STORE_ZERO(Y6, Y7)
	STORE_ZERO(Y8, Y9)
	STORE_ZERO(Y10, Y11)
	STORE_ZERO(Y12, Y13)
	STORE_ZERO(Y14, Y15)
	VZEROUPPER
	RET
