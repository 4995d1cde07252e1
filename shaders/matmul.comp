#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// C = alpha·op(A)·op(B) + beta·C, batched over gl_WorkGroupID.z. One source, two kernels; the
// kernel and its variant are specialization constants that core/vulkan/matmul.go picks per call,
// each variant its own cached pipeline.
//
// LANES, for CPU devices with 8-wide subgroups (lavapipe). llvmpipe runs a subgroup of 8
// invocations as one SIMD vector, but it turns every storage-buffer or shared-memory access
// inside a loop into a scalar loop over the 8 lanes (each component inserted into the vector
// through the stack), whether the address is uniform or not. A load therefore costs far more than
// the arithmetic it feeds, so this kernel loads each operand element once per workgroup and
// reuses it from registers as much as it can. A workgroup is one subgroup of 8 lanes that
// computes an (8·RA) × (32·NB) tile of C: no shared memory, no barriers. Per step of 4 along k,
// each lane loads RA vec4s of op(A) (its own rows) and 4·NB vec4s of op(B) (its own columns),
// takes every A value from the lane that loaded it with subgroupBroadcast at a constant lane
// index (an extract and a splat on llvmpipe), and does 4·8·RA·NB vec4 multiply-adds into its
// 8·RA × NB vec4 accumulators, which LLVM keeps on the stack.
//
// Otherwise (GPUs): a 256-invocation workgroup computes a 128×128 tile of C, each invocation
// 16 rows × 4 columns in registers, staging K in steps of 8 through shared memory (2 × 4 KiB);
// groups of 8 invocations read the same A values from shared memory. No subgroup operation is
// used, so it is correct whatever the subgroup size. (The module still declares the subgroup
// ballot capability, for LANES' broadcast, so a device must support ballot to create it.)
//
// VEC4 (LANES only): the host has checked that every binding starts on 16 bytes and that lda, ldb,
// N (C's row length) and the batch strides are multiples of 4, so 4 consecutive elements along a
// stored row are one aligned vec4 load. Without it, LANES reads those 4 elements one by one,
// which on llvmpipe costs only about 4 % more: its loads cost per element, not per instruction.
// TRANS_A and TRANS_B are constants rather than push constants so that the compiler drops the
// other layout's code (and, on llvmpipe, its loads, which would run under a mask otherwise).
//
// B16 (either kernel): B holds 16-bit floats, two to a 32-bit word (element i in the low half of
// word i/2 when i is even) — 1 bfloat16, 2 IEEE half — widened exactly as they are read, so the
// product is the one of the widened B, accumulated in float32 (weights kept 16-bit in memory).
// It reads B element by element, as without VEC4.
//
// Rows and columns past the edge of C are read at clamped, valid addresses and never stored;
// elements past K are zeroed so that they add nothing. beta = 0 never reads C (it may hold NaN).
layout(local_size_x = 256, local_size_x_id = 0) in;
layout(constant_id = 1) const bool TRANS_A = false;
layout(constant_id = 2) const bool TRANS_B = false;
layout(constant_id = 3) const bool VEC4 = false;
layout(constant_id = 4) const bool LANES = false;
layout(constant_id = 5) const uint RA = 8; // LANES: vec4 loads of A per lane and step; 8·RA rows
layout(constant_id = 6) const uint NB = 4; // LANES: vec4 columns per lane; 32·NB columns
layout(constant_id = 7) const uint B16 = 0; // 0: B is float; 1: bfloat16; 2: IEEE half

layout(std430, binding = 0) buffer Cbuf { float c[]; };
layout(std430, binding = 0) buffer C4buf { vec4 c4[]; };
layout(std430, binding = 1) readonly buffer Abuf { float a[]; };
layout(std430, binding = 1) readonly buffer A4buf { vec4 a4[]; };
layout(std430, binding = 2) readonly buffer Bbuf { float b[]; };
layout(std430, binding = 2) readonly buffer B4buf { vec4 b4[]; };
layout(std430, binding = 2) readonly buffer BHbuf { uint bh[]; };
layout(push_constant) uniform Push {
    uint M, N, K;
    uint lda, ldb;                  // row lengths of A and B as stored
    uint strideA, strideB, strideC; // batch strides in elements
    float alpha, beta;
    // Split-K (tiled kernel only; LANES takes splits = 1): gl_WorkGroupID.z = batch·splits +
    // split, and split s sums k in [s·chunk, (s+1)·chunk) into its own slice of C (strideC
    // apart, C being the caller's scratch); matmul_reduce.comp then adds the slices up. The
    // block is 48 bytes, a multiple of 16: with 40, lavapipe (Mesa 22.3) read alpha (bytes
    // 32-35) as 0 inside the store loop below.
    uint splits, chunk;
} p;

// ---- LANES kernel ----

const uint TM = 8u * RA; // rows of the tile

// Four consecutive elements of stored A (or B), row o, from column i, where the row is read up to
// lim: positions past lim are clamped to valid memory (their values are never used).
vec4 loadA(uint base, uint o, uint i, uint lim) {
    if (VEC4) return a4[(base + o * p.lda + min(i, (lim - 1u) & ~3u)) >> 2];
    uint r = base + o * p.lda;
    return vec4(a[r + min(i, lim - 1u)], a[r + min(i + 1u, lim - 1u)],
                a[r + min(i + 2u, lim - 1u)], a[r + min(i + 3u, lim - 1u)]);
}
// f16 widens an IEEE half exactly, subnormals as man·2⁻²⁴ (unpackHalf2x16 may flush them).
float f16(uint h) {
    uint e = (h >> 10) & 31u, s = (h & 0x8000u) << 16, m = h & 0x3ffu;
    if (e == 0u) return uintBitsToFloat(s) + (s != 0u ? -1.0 : 1.0) * float(m) * exp2(-24.0);
    return uintBitsToFloat(s | (e == 31u ? 0x7f800000u : (e + 112u) << 23) | m << 13);
}

// bAt is element i of stored B, widened when it is 16-bit.
float bAt(uint i) {
    if (B16 == 0u) return b[i];
    uint h = (bh[i >> 1] >> ((i & 1u) * 16u)) & 0xffffu;
    if (B16 == 1u) return uintBitsToFloat(h << 16);
    return f16(h);
}
vec4 loadB(uint base, uint o, uint i, uint lim) {
    if (VEC4 && B16 == 0u) return b4[(base + o * p.ldb + min(i, (lim - 1u) & ~3u)) >> 2];
    uint r = base + o * p.ldb;
    return vec4(bAt(r + min(i, lim - 1u)), bAt(r + min(i + 1u, lim - 1u)),
                bAt(r + min(i + 2u, lim - 1u)), bAt(r + min(i + 3u, lim - 1u)));
}

// STEP(L): the A vec4s that lane L loaded, broadcast (L must be a constant for Vulkan 1.1), times
// this lane's B. Untransposed, register r of lane L is row 8r+L at k0..k0+3; transposed, it is
// rows 4q..4q+3 at k0+kk for v = 8r+L = kk·(TM/4) + q.
#define STEP(L)                                                                  \
    [[unroll]] for (uint r = 0; r < RA; r++) {                                   \
        vec4 av = subgroupBroadcast(ar[r], L);                                   \
        if (!TRANS_A) {                                                          \
            [[unroll]] for (uint j = 0; j < NB; j++) {                           \
                acc[8 * r + L][j] += av.x * bv[0][j];                            \
                acc[8 * r + L][j] += av.y * bv[1][j];                            \
                acc[8 * r + L][j] += av.z * bv[2][j];                            \
                acc[8 * r + L][j] += av.w * bv[3][j];                            \
            }                                                                    \
        } else {                                                                 \
            uint kk = (8 * r + L) / (TM / 4), q = (8 * r + L) % (TM / 4);        \
            [[unroll]] for (uint j = 0; j < NB; j++) {                           \
                acc[4 * q + 0][j] += av.x * bv[kk][j];                           \
                acc[4 * q + 1][j] += av.y * bv[kk][j];                           \
                acc[4 * q + 2][j] += av.z * bv[kk][j];                           \
                acc[4 * q + 3][j] += av.w * bv[kk][j];                           \
            }                                                                    \
        }                                                                        \
    }

void lanesKernel() {
    uint lane = gl_SubgroupInvocationID;
    uint m0 = gl_WorkGroupID.y * TM, n0 = gl_WorkGroupID.x * (32u * NB);
    uint aBase = gl_WorkGroupID.z * p.strideA;
    uint bBase = gl_WorkGroupID.z * p.strideB;
    uint cBase = gl_WorkGroupID.z * p.strideC;

    vec4 acc[TM][NB];
    [[unroll]] for (uint i = 0; i < TM; i++) [[unroll]] for (uint j = 0; j < NB; j++) acc[i][j] = vec4(0.0);

    for (uint k0 = 0; k0 < p.K; k0 += 4u) {
        // bv[kk][j]: op(B) at k0+kk, this lane's columns n0 + (8j + lane)·4 .. +3.
        vec4 bv[4][NB];
        if (!TRANS_B) {
            [[unroll]] for (uint kk = 0; kk < 4; kk++) {
                uint k = k0 + kk;
                [[unroll]] for (uint j = 0; j < NB; j++) {
                    vec4 v = loadB(bBase, min(k, p.K - 1u), n0 + (8u * j + lane) * 4u, p.N);
                    bv[kk][j] = mix(vec4(0.0), v, bvec4(k < p.K));
                }
            }
        } else {
            [[unroll]] for (uint j = 0; j < NB; j++) {
                vec4 t[4]; // t[col]: the column's 4 values along k
                [[unroll]] for (uint col = 0; col < 4; col++) {
                    uint n = min(n0 + (8u * j + lane) * 4u + col, p.N - 1u);
                    t[col] = loadB(bBase, n, k0, p.K);
                }
                [[unroll]] for (uint kk = 0; kk < 4; kk++) {
                    vec4 v = vec4(t[0][kk], t[1][kk], t[2][kk], t[3][kk]);
                    bv[kk][j] = mix(vec4(0.0), v, bvec4(k0 + kk < p.K));
                }
            }
        }
        // ar[r]: see STEP.
        vec4 ar[RA];
        [[unroll]] for (uint r = 0; r < RA; r++) {
            if (!TRANS_A) {
                vec4 v = loadA(aBase, min(m0 + 8u * r + lane, p.M - 1u), k0, p.K);
                ar[r] = mix(vec4(0.0), v, lessThan(uvec4(k0) + uvec4(0, 1, 2, 3), uvec4(p.K)));
            } else {
                uint v = 8u * r + lane, k = k0 + v / (TM / 4u);
                vec4 x = loadA(aBase, min(k, p.K - 1u), m0 + 4u * (v % (TM / 4u)), p.M);
                ar[r] = mix(vec4(0.0), x, bvec4(k < p.K));
            }
        }
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
    }

    // One row of C per iteration of a loop that is not unrolled, its accumulators picked by a
    // chain of selects (cheap SIMD blends). Unrolled stores (each a scalar loop on llvmpipe) or a
    // dynamically indexed copy of the accumulators made LLVM compile the shader 4 to 10 times
    // slower, up to 35 s for this tile.
    [[dont_unroll]] for (uint i = 0; i < TM; i++) {
        uint row = m0 + i;
        if (row >= p.M) break;
        [[unroll]] for (uint j = 0; j < NB; j++) {
            vec4 v = acc[0][j];
            [[unroll]] for (uint t = 1; t < TM; t++) v = i == t ? acc[t][j] : v;
            v *= p.alpha;
            uint col = n0 + (8u * j + lane) * 4u;
            uint idx = cBase + row * p.N + col;
            if (VEC4) {
                if (col < p.N) c4[idx >> 2] = p.beta == 0.0 ? v : v + p.beta * c4[idx >> 2];
            } else {
                [[unroll]] for (uint q = 0; q < 4; q++) {
                    if (col + q < p.N) c[idx + q] = p.beta == 0.0 ? v[q] : v[q] + p.beta * c[idx + q];
                }
            }
        }
    }
}

// ---- GPU kernel ----

const uint BM = 128, BN = 128, BK = 8;
shared vec4 As[BK][BM / 4]; // As[k][m/4]: op(A) tile, k-major
shared vec4 Bs[BK][BN / 4]; // Bs[k][n/4]: op(B) tile

void tiledKernel() {
    uint tid = gl_LocalInvocationIndex;
    uint lane = tid & 7u;
    uint grp = tid >> 3;
    uint colGroup = grp & 3u; // columns colGroup*32 + lane*4 .. +3
    uint rowGroup = grp >> 2; // rows rowGroup*16 .. +15
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    uint batch = gl_WorkGroupID.z / p.splits, split = gl_WorkGroupID.z % p.splits;
    uint aBase = batch * p.strideA;
    uint bBase = batch * p.strideB;
    uint cBase = gl_WorkGroupID.z * p.strideC;
    uint kBegin = split * p.chunk, kEnd = min(p.K, kBegin + p.chunk);

    vec4 acc[16];
    [[unroll]] for (uint i = 0; i < 16; i++) acc[i] = vec4(0.0);

    for (uint k0 = kBegin; k0 < kEnd; k0 += BK) {
        // Stage the tiles; consecutive invocations walk the operand's contiguous dimension.
        [[unroll]] for (uint it = 0; it < BM * BK / 256; it++) {
            uint e = tid + 256 * it;
            uint mm = TRANS_A ? e % BM : e / BK, kk = TRANS_A ? e / BM : e % BK;
            uint gm = m0 + mm, gk = k0 + kk;
            float v = 0.0;
            if (gm < p.M && gk < kEnd) v = a[aBase + (TRANS_A ? gk * p.lda + gm : gm * p.lda + gk)];
            As[kk][mm >> 2][mm & 3u] = v;
        }
        [[unroll]] for (uint it = 0; it < BN * BK / 256; it++) {
            uint e = tid + 256 * it;
            uint nn = TRANS_B ? e / BK : e % BN, kk = TRANS_B ? e % BK : e / BN;
            uint gn = n0 + nn, gk = k0 + kk;
            float v = 0.0;
            if (gn < p.N && gk < kEnd) v = bAt(bBase + (TRANS_B ? gn * p.ldb + gk : gk * p.ldb + gn));
            Bs[kk][nn >> 2][nn & 3u] = v;
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            vec4 bv = Bs[kk][colGroup * 8 + lane];
            [[unroll]] for (uint i = 0; i < 4; i++) {
                vec4 av = As[kk][rowGroup * 4 + i];
                acc[4 * i + 0] += av.x * bv;
                acc[4 * i + 1] += av.y * bv;
                acc[4 * i + 2] += av.z * bv;
                acc[4 * i + 3] += av.w * bv;
            }
        }
        barrier();
    }

    // No early exit from these unrolled loops: a break would keep them rolled, and acc[] would
    // then be indexed dynamically, i.e. live in memory instead of registers.
    [[unroll]] for (uint i = 0; i < 16; i++) {
        uint row = m0 + rowGroup * 16 + i;
        [[unroll]] for (uint j = 0; j < 4; j++) {
            uint col = n0 + colGroup * 32 + lane * 4 + j;
            if (row < p.M && col < p.N) {
                uint idx = cBase + row * p.N + col;
                float v = p.alpha * acc[i][j];
                c[idx] = p.beta == 0.0 ? v : v + p.beta * c[idx];
            }
        }
    }
}

void main() {
    if (LANES) lanesKernel(); else tiledKernel();
}
