//go:build amd64 && !purego

#include "textflag.h"

// Constant table: each constant as 8 copies (one ymm, usable as a memory
// operand, since AVX2 has no embedded broadcast), then the tail mask table:
// 8 × all-ones followed by 8 × zero, so loading 8 dwords at MASKEND − 4·r
// gives a mask with the first r lanes set.
// The values match vecmath_go.go (Cephes expf polynomial, C5..C0).
#define LO vmconst<>+0(SB) // expLo ≈ −87.33654: smallest float32 ≥ ln 2^−126
#define HI vmconst<>+32(SB) // expHi = 89
#define LOG2E vmconst<>+64(SB) // log2(e)
#define LN2HI vmconst<>+96(SB) // ln2hi = 0.693359375
#define LN2LO vmconst<>+128(SB) // ln2lo = −2.12194440e−4
#define C5 vmconst<>+160(SB)
#define C4 vmconst<>+192(SB)
#define C3 vmconst<>+224(SB)
#define C2 vmconst<>+256(SB)
#define C1 vmconst<>+288(SB)
#define C0 vmconst<>+320(SB)
#define ONE vmconst<>+352(SB) // 1.0
#define BIAS vmconst<>+384(SB) // int32 exponent bias
#define SIGN vmconst<>+416(SB) // float32 sign bit
#define MASKEND vmconst<>+480(SB)

DATA vmconst<>+0(SB)/4, $0xc2aeac4f
DATA vmconst<>+4(SB)/4, $0xc2aeac4f
DATA vmconst<>+8(SB)/4, $0xc2aeac4f
DATA vmconst<>+12(SB)/4, $0xc2aeac4f
DATA vmconst<>+16(SB)/4, $0xc2aeac4f
DATA vmconst<>+20(SB)/4, $0xc2aeac4f
DATA vmconst<>+24(SB)/4, $0xc2aeac4f
DATA vmconst<>+28(SB)/4, $0xc2aeac4f
DATA vmconst<>+32(SB)/4, $0x42b20000
DATA vmconst<>+36(SB)/4, $0x42b20000
DATA vmconst<>+40(SB)/4, $0x42b20000
DATA vmconst<>+44(SB)/4, $0x42b20000
DATA vmconst<>+48(SB)/4, $0x42b20000
DATA vmconst<>+52(SB)/4, $0x42b20000
DATA vmconst<>+56(SB)/4, $0x42b20000
DATA vmconst<>+60(SB)/4, $0x42b20000
DATA vmconst<>+64(SB)/4, $0x3fb8aa3b
DATA vmconst<>+68(SB)/4, $0x3fb8aa3b
DATA vmconst<>+72(SB)/4, $0x3fb8aa3b
DATA vmconst<>+76(SB)/4, $0x3fb8aa3b
DATA vmconst<>+80(SB)/4, $0x3fb8aa3b
DATA vmconst<>+84(SB)/4, $0x3fb8aa3b
DATA vmconst<>+88(SB)/4, $0x3fb8aa3b
DATA vmconst<>+92(SB)/4, $0x3fb8aa3b
DATA vmconst<>+96(SB)/4, $0x3f318000
DATA vmconst<>+100(SB)/4, $0x3f318000
DATA vmconst<>+104(SB)/4, $0x3f318000
DATA vmconst<>+108(SB)/4, $0x3f318000
DATA vmconst<>+112(SB)/4, $0x3f318000
DATA vmconst<>+116(SB)/4, $0x3f318000
DATA vmconst<>+120(SB)/4, $0x3f318000
DATA vmconst<>+124(SB)/4, $0x3f318000
DATA vmconst<>+128(SB)/4, $0xb95e8083
DATA vmconst<>+132(SB)/4, $0xb95e8083
DATA vmconst<>+136(SB)/4, $0xb95e8083
DATA vmconst<>+140(SB)/4, $0xb95e8083
DATA vmconst<>+144(SB)/4, $0xb95e8083
DATA vmconst<>+148(SB)/4, $0xb95e8083
DATA vmconst<>+152(SB)/4, $0xb95e8083
DATA vmconst<>+156(SB)/4, $0xb95e8083
DATA vmconst<>+160(SB)/4, $0x39506967
DATA vmconst<>+164(SB)/4, $0x39506967
DATA vmconst<>+168(SB)/4, $0x39506967
DATA vmconst<>+172(SB)/4, $0x39506967
DATA vmconst<>+176(SB)/4, $0x39506967
DATA vmconst<>+180(SB)/4, $0x39506967
DATA vmconst<>+184(SB)/4, $0x39506967
DATA vmconst<>+188(SB)/4, $0x39506967
DATA vmconst<>+192(SB)/4, $0x3ab743ce
DATA vmconst<>+196(SB)/4, $0x3ab743ce
DATA vmconst<>+200(SB)/4, $0x3ab743ce
DATA vmconst<>+204(SB)/4, $0x3ab743ce
DATA vmconst<>+208(SB)/4, $0x3ab743ce
DATA vmconst<>+212(SB)/4, $0x3ab743ce
DATA vmconst<>+216(SB)/4, $0x3ab743ce
DATA vmconst<>+220(SB)/4, $0x3ab743ce
DATA vmconst<>+224(SB)/4, $0x3c088908
DATA vmconst<>+228(SB)/4, $0x3c088908
DATA vmconst<>+232(SB)/4, $0x3c088908
DATA vmconst<>+236(SB)/4, $0x3c088908
DATA vmconst<>+240(SB)/4, $0x3c088908
DATA vmconst<>+244(SB)/4, $0x3c088908
DATA vmconst<>+248(SB)/4, $0x3c088908
DATA vmconst<>+252(SB)/4, $0x3c088908
DATA vmconst<>+256(SB)/4, $0x3d2aa9c1
DATA vmconst<>+260(SB)/4, $0x3d2aa9c1
DATA vmconst<>+264(SB)/4, $0x3d2aa9c1
DATA vmconst<>+268(SB)/4, $0x3d2aa9c1
DATA vmconst<>+272(SB)/4, $0x3d2aa9c1
DATA vmconst<>+276(SB)/4, $0x3d2aa9c1
DATA vmconst<>+280(SB)/4, $0x3d2aa9c1
DATA vmconst<>+284(SB)/4, $0x3d2aa9c1
DATA vmconst<>+288(SB)/4, $0x3e2aaaaa
DATA vmconst<>+292(SB)/4, $0x3e2aaaaa
DATA vmconst<>+296(SB)/4, $0x3e2aaaaa
DATA vmconst<>+300(SB)/4, $0x3e2aaaaa
DATA vmconst<>+304(SB)/4, $0x3e2aaaaa
DATA vmconst<>+308(SB)/4, $0x3e2aaaaa
DATA vmconst<>+312(SB)/4, $0x3e2aaaaa
DATA vmconst<>+316(SB)/4, $0x3e2aaaaa
DATA vmconst<>+320(SB)/4, $0x3f000000
DATA vmconst<>+324(SB)/4, $0x3f000000
DATA vmconst<>+328(SB)/4, $0x3f000000
DATA vmconst<>+332(SB)/4, $0x3f000000
DATA vmconst<>+336(SB)/4, $0x3f000000
DATA vmconst<>+340(SB)/4, $0x3f000000
DATA vmconst<>+344(SB)/4, $0x3f000000
DATA vmconst<>+348(SB)/4, $0x3f000000
DATA vmconst<>+352(SB)/4, $0x3f800000
DATA vmconst<>+356(SB)/4, $0x3f800000
DATA vmconst<>+360(SB)/4, $0x3f800000
DATA vmconst<>+364(SB)/4, $0x3f800000
DATA vmconst<>+368(SB)/4, $0x3f800000
DATA vmconst<>+372(SB)/4, $0x3f800000
DATA vmconst<>+376(SB)/4, $0x3f800000
DATA vmconst<>+380(SB)/4, $0x3f800000
DATA vmconst<>+384(SB)/4, $0x0000007f
DATA vmconst<>+388(SB)/4, $0x0000007f
DATA vmconst<>+392(SB)/4, $0x0000007f
DATA vmconst<>+396(SB)/4, $0x0000007f
DATA vmconst<>+400(SB)/4, $0x0000007f
DATA vmconst<>+404(SB)/4, $0x0000007f
DATA vmconst<>+408(SB)/4, $0x0000007f
DATA vmconst<>+412(SB)/4, $0x0000007f
DATA vmconst<>+416(SB)/4, $0x80000000
DATA vmconst<>+420(SB)/4, $0x80000000
DATA vmconst<>+424(SB)/4, $0x80000000
DATA vmconst<>+428(SB)/4, $0x80000000
DATA vmconst<>+432(SB)/4, $0x80000000
DATA vmconst<>+436(SB)/4, $0x80000000
DATA vmconst<>+440(SB)/4, $0x80000000
DATA vmconst<>+444(SB)/4, $0x80000000
DATA vmconst<>+448(SB)/4, $0xffffffff
DATA vmconst<>+452(SB)/4, $0xffffffff
DATA vmconst<>+456(SB)/4, $0xffffffff
DATA vmconst<>+460(SB)/4, $0xffffffff
DATA vmconst<>+464(SB)/4, $0xffffffff
DATA vmconst<>+468(SB)/4, $0xffffffff
DATA vmconst<>+472(SB)/4, $0xffffffff
DATA vmconst<>+476(SB)/4, $0xffffffff
DATA vmconst<>+480(SB)/4, $0x00000000
DATA vmconst<>+484(SB)/4, $0x00000000
DATA vmconst<>+488(SB)/4, $0x00000000
DATA vmconst<>+492(SB)/4, $0x00000000
DATA vmconst<>+496(SB)/4, $0x00000000
DATA vmconst<>+500(SB)/4, $0x00000000
DATA vmconst<>+504(SB)/4, $0x00000000
DATA vmconst<>+508(SB)/4, $0x00000000
GLOBL vmconst<>(SB), RODATA|NOPTR, $512

// EXP8 sets x = e^x in 8 lanes, using t, n, r as scratch; Y14 must hold LO
// and Y15 HI. Steps:
//   t = clamp(x, LO, HI) (NaN passes through: MAXPS/MINPS return their
//       second source, here x or t, when either is NaN);
//   n = round(t·log2e); r = t − n·ln2hi − n·ln2lo (FMA);
//   p = e^r by Horner: ((((C5·r+C4)·r+C3)·r+C2)·r+C1)·r+C0, then ·r+1, ·r+1;
//   p·2^(n>>1)·2^(n−n>>1): two factors, each a normal power of two, so
//       n = 128 (x up to ln MaxFloat32) is finite and x > 88.72 overflows
//       to +Inf by itself;
//   lanes with x < LO (subnormal results and −Inf) are zeroed by the
//       !(x < LO) mask, which is true for NaN, so NaN stays NaN.
#define EXP8(x, t, n, r) \
	VMAXPS x, Y14, t; \
	VMINPS t, Y15, t; \
	VMULPS LOG2E, t, n; \
	VROUNDPS $0, n, n; \
	VFNMADD231PS LN2HI, n, t; \
	VFNMADD231PS LN2LO, n, t; \
	VMOVUPS C5, r; \
	VFMADD213PS C4, t, r; \
	VFMADD213PS C3, t, r; \
	VFMADD213PS C2, t, r; \
	VFMADD213PS C1, t, r; \
	VFMADD213PS C0, t, r; \
	VFMADD213PS ONE, t, r; \
	VFMADD213PS ONE, t, r; \
	VCVTPS2DQ n, n; \
	VPSRAD $1, n, t; \
	VPSUBD t, n, n; \
	VPADDD BIAS, t, t; \
	VPSLLD $23, t, t; \
	VPADDD BIAS, n, n; \
	VPSLLD $23, n, n; \
	VMULPS t, r, r; \
	VMULPS n, r, r; \
	VCMPPS $5, Y14, x, t; \
	VANDPS r, t, x

// TAILMASK sets mask to the first CX lanes (1 ≤ CX ≤ 7); clobbers AX, CX.
#define TAILMASK(mask) \
	LEAQ MASKEND, AX; \
	SHLQ $2, CX; \
	SUBQ CX, AX; \
	VMOVUPS (AX), mask

// func expAVX2(dst, src *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS LO, Y14
	VMOVUPS HI, Y15

exp16:
	CMPQ CX, $16
	JL   exp8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  exp16

exp8:
	CMPQ CX, $8
	JL   exptail
	VMOVUPS (SI), Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

exptail:
	TESTQ CX, CX
	JZ    expdone
	TAILMASK(Y8)
	VMASKMOVPS (SI), Y8, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y8, (DI)

expdone:
	VZEROUPPER
	RET

// func expSubSumAVX2(dst, src *float32, n int, shift float32) float32
// Y13 = shift; Y11, Y12 = lane sums (one per unrolled block).
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y13
	VMOVUPS LO, Y14
	VMOVUPS HI, Y15
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12

ess16:
	CMPQ CX, $16
	JL   ess8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS Y13, Y0, Y0
	VSUBPS Y13, Y4, Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	VADDPS Y0, Y11, Y11
	VADDPS Y4, Y12, Y12
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  ess16

ess8:
	CMPQ CX, $8
	JL   esstail
	VMOVUPS (SI), Y0
	VSUBPS Y13, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	VADDPS Y0, Y11, Y11
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX

esstail:
	TESTQ CX, CX
	JZ    esssum
	TAILMASK(Y8)
	VMASKMOVPS (SI), Y8, Y0
	VSUBPS Y13, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VANDPS Y8, Y0, Y0 // masked-off lanes computed e^(0−shift): drop them from the sum
	VMASKMOVPS Y0, Y8, (DI)
	VADDPS Y0, Y11, Y11

esssum:
	VADDPS Y12, Y11, Y11
	VEXTRACTF128 $1, Y11, X12
	VADDPS X12, X11, X11
	VMOVHLPS X11, X11, X12
	VADDPS X12, X11, X11
	VMOVSHDUP X11, X12
	VADDSS X12, X11, X11
	VMOVSS X11, ret+32(FP)
	VZEROUPPER
	RET

// SILU8 sets g = g·u / (1 + e^−g), with u a register or memory operand;
// x, t, n, r are scratch.
#define SILU8(g, u, x, t, n, r) \
	VXORPS SIGN, g, x; \
	EXP8(x, t, n, r); \
	VADDPS ONE, x, x; \
	VMULPS u, g, g; \
	VDIVPS x, g, g

// func siluMulAVX2(out, gate, up *float32, n int)
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS LO, Y14
	VMOVUPS HI, Y15

silu16:
	CMPQ CX, $16
	JL   silu8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	SILU8(Y0, (DX), Y1, Y2, Y3, Y4)
	SILU8(Y5, 32(DX), Y6, Y7, Y8, Y9)
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  silu16

silu8:
	CMPQ CX, $8
	JL   silutail
	VMOVUPS (SI), Y0
	SILU8(Y0, (DX), Y1, Y2, Y3, Y4)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX

silutail:
	TESTQ CX, CX
	JZ    siludone
	TAILMASK(Y10)
	VMASKMOVPS (SI), Y10, Y0
	VMASKMOVPS (DX), Y10, Y5
	SILU8(Y0, Y5, Y1, Y2, Y3, Y4)
	VMASKMOVPS Y0, Y10, (DI)

siludone:
	VZEROUPPER
	RET

// SILUBWD8: from g (gate), d (dOut) and u (up) in registers, sets
// d = dUp = d·g·σ and u = dGate = d·u·(σ + g·σ·(1−σ)), σ = 1/(1+e^−g);
// g, x, t, n, r are clobbered. 1−σ is taken as e^−g·σ, which keeps its
// relative precision when σ is near 1 (1−σ by subtraction lost up to ~1e−6
// of dGate around g ≈ 16); min(·, 1) maps the e^−g = +Inf, σ = 0 product
// (NaN) to its limit 1. Everything is read before the caller stores, so the
// outputs may alias the inputs element-wise.
#define SILUBWD8(g, d, u, x, t, n, r) \
	VXORPS SIGN, g, x; \
	EXP8(x, t, n, r); \
	VADDPS ONE, x, t; \
	VMOVUPS ONE, n; \
	VDIVPS t, n, n; \
	VMULPS n, x, x; \
	VMINPS ONE, x, x; \
	VMULPS n, g, g; \
	VFMADD213PS n, g, x; \
	VMULPS d, u, u; \
	VMULPS x, u, u; \
	VMULPS g, d, d

// func siluMulBackwardAVX2(dGate, dUp, dOut, gate, up *float32, n int)
// Each 8-lane block needs 7 registers, so with Y14/Y15 the ×2 unroll
// uses Y0–Y13 and the tail mask reuses Y13 (only one block runs there).
TEXT ·siluMulBackwardAVX2(SB), NOSPLIT, $0-48
	MOVQ dGate+0(FP), DI
	MOVQ dUp+8(FP), R8
	MOVQ dOut+16(FP), DX
	MOVQ gate+24(FP), SI
	MOVQ up+32(FP), R9
	MOVQ n+40(FP), CX
	VMOVUPS LO, Y14
	VMOVUPS HI, Y15

bwd16:
	CMPQ CX, $16
	JL   bwd8
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMOVUPS (R9), Y2
	VMOVUPS 32(SI), Y7
	VMOVUPS 32(DX), Y8
	VMOVUPS 32(R9), Y9
	SILUBWD8(Y0, Y1, Y2, Y3, Y4, Y5, Y6)
	SILUBWD8(Y7, Y8, Y9, Y10, Y11, Y12, Y13)
	VMOVUPS Y1, (R8)
	VMOVUPS Y2, (DI)
	VMOVUPS Y8, 32(R8)
	VMOVUPS Y9, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R9
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  bwd16

bwd8:
	CMPQ CX, $8
	JL   bwdtail
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMOVUPS (R9), Y2
	SILUBWD8(Y0, Y1, Y2, Y3, Y4, Y5, Y6)
	VMOVUPS Y1, (R8)
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R9
	ADDQ $32, R8
	ADDQ $32, DI
	SUBQ $8, CX

bwdtail:
	TESTQ CX, CX
	JZ    bwddone
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	VMASKMOVPS (DX), Y13, Y1
	VMASKMOVPS (R9), Y13, Y2
	SILUBWD8(Y0, Y1, Y2, Y3, Y4, Y5, Y6)
	VMASKMOVPS Y1, Y13, (R8)
	VMASKMOVPS Y2, Y13, (DI)

bwddone:
	VZEROUPPER
	RET

// HSUM8(acc, t) leaves the sum of acc's 8 lanes in the low lane of acc.
#define HSUM8(acc, xacc, xt) \
	VEXTRACTF128 $1, acc, xt; \
	VADDPS xt, xacc, xacc; \
	VMOVHLPS xacc, xacc, xt; \
	VADDPS xt, xacc, xacc; \
	VMOVSHDUP xacc, xt; \
	VADDSS xt, xacc, xacc

// func sumSquaresAVX2(x *float32, n int) float32
// Four independent lane accumulators (Y0–Y3), so the FMA latency is hidden.
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

ssq32:
	CMPQ CX, $32
	JL   ssq8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  ssq32

ssq8:
	CMPQ CX, $8
	JL   ssqtail
	VMOVUPS (SI), Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  ssq8

ssqtail:
	TESTQ CX, CX
	JZ    ssqsum
	TAILMASK(Y8)
	VMASKMOVPS (SI), Y8, Y4 // masked-off lanes read as 0
	VFMADD231PS Y4, Y4, Y1

ssqsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM8(Y0, X0, X1)
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleMulAVX2(out, x, w *float32, n int, s float32)
// out = (x·s)·w, rounded after each product as the Go loop is.
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-36
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y15

smul16:
	CMPQ CX, $16
	JL   smul8
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS (DX), Y0, Y0
	VMULPS 32(DX), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  smul16

smul8:
	CMPQ CX, $8
	JL   smultail
	VMULPS (SI), Y15, Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX

smultail:
	TESTQ CX, CX
	JZ    smuldone
	TAILMASK(Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMASKMOVPS (DX), Y8, Y1
	VMULPS Y15, Y0, Y0
	VMULPS Y1, Y0, Y0
	VMASKMOVPS Y0, Y8, (DI)

smuldone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int, neg float32) float32
// The largest of x[0:n] and neg (−Inf from the caller); NaN if any x is NaN.
// Y0–Y1 hold running maxima, Y2 the OR of the lanes' unordered (NaN) tests.
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS neg+16(FP), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y9
	VXORPS Y2, Y2, Y2

max16:
	CMPQ CX, $16
	JL   max8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMAXPS Y4, Y0, Y0
	VMAXPS Y5, Y1, Y1
	VCMPPS $3, Y4, Y4, Y6
	VCMPPS $3, Y5, Y5, Y7
	VORPS Y6, Y2, Y2
	VORPS Y7, Y2, Y2
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  max16

max8:
	CMPQ CX, $8
	JL   maxtail
	VMOVUPS (SI), Y4
	VMAXPS Y4, Y0, Y0
	VCMPPS $3, Y4, Y4, Y6
	VORPS Y6, Y2, Y2
	ADDQ $32, SI
	SUBQ $8, CX

maxtail:
	TESTQ CX, CX
	JZ    maxreduce
	TAILMASK(Y8)
	VMASKMOVPS (SI), Y8, Y4
	VBLENDVPS Y8, Y4, Y9, Y4 // masked-off lanes take neg
	VMAXPS Y4, Y1, Y1
	VCMPPS $3, Y4, Y4, Y6
	VORPS Y6, Y2, Y2

maxreduce:
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VMAXPS X1, X0, X0
	VMOVSHDUP X0, X1
	VMAXSS X1, X0, X0
	VMOVMSKPS Y2, AX
	TESTL AX, AX
	JZ    maxdone
	VPCMPEQD X0, X0, X0 // all ones: a NaN

maxdone:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func rotateAVX2(x, y, c, s *float32, n int, sign float32)
// With s' = sign·s: x, y = x·c − y·s', y·c + x·s', each product rounded
// before the sum, as the Go loop is (no FMA).
TEXT ·rotateAVX2(SB), NOSPLIT, $0-44
	MOVQ x+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ c+16(FP), DX
	MOVQ s+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS sign+40(FP), Y15

rot8:
	CMPQ CX, $8
	JL   rottail
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMOVUPS (DX), Y2
	VMULPS (R8), Y15, Y3
	VMULPS Y2, Y0, Y4
	VMULPS Y3, Y1, Y5
	VSUBPS Y5, Y4, Y4
	VMULPS Y2, Y1, Y6
	VMULPS Y3, Y0, Y7
	VADDPS Y7, Y6, Y6
	VMOVUPS Y4, (DI)
	VMOVUPS Y6, (SI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	SUBQ $8, CX
	JMP  rot8

rottail:
	TESTQ CX, CX
	JZ    rotdone
	TAILMASK(Y8)
	VMASKMOVPS (DI), Y8, Y0
	VMASKMOVPS (SI), Y8, Y1
	VMASKMOVPS (DX), Y8, Y2
	VMASKMOVPS (R8), Y8, Y3
	VMULPS Y3, Y15, Y3
	VMULPS Y2, Y0, Y4
	VMULPS Y3, Y1, Y5
	VSUBPS Y5, Y4, Y4
	VMULPS Y2, Y1, Y6
	VMULPS Y3, Y0, Y7
	VADDPS Y7, Y6, Y6
	VMASKMOVPS Y4, Y8, (DI)
	VMASKMOVPS Y6, Y8, (SI)

rotdone:
	VZEROUPPER
	RET
