#version 450
#extension GL_EXT_control_flow_attributes : require
// C = alpha·op(A)·op(B) + beta·C, batched over gl_WorkGroupID.z, every transpose variant.
//
// Shaped for lavapipe, which runs 8 invocations as one SIMD vector and turns a load whose address
// differs per lane into a scalar loop: each group of 8 lanes shares its rows of A (uniform vec4
// loads from shared memory) and loads one vec4 of B per lane, then does 16 vec4 FMAs per B load.
// A 256-invocation workgroup computes a 128×128 tile of C, each lane 16 rows × 4 columns in
// registers; K is walked in steps of 8 through shared memory (2 × 4 KiB). The kernel uses no
// subgroup built-ins, so it is correct on any device whatever its subgroup size. The register
// loops are unrolled so that acc[] can stay in registers instead of indexed memory.
layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Cbuf { float c[]; };
layout(std430, binding = 1) readonly buffer Abuf { float a[]; };
layout(std430, binding = 2) readonly buffer Bbuf { float b[]; };
layout(push_constant) uniform Push {
    uint M, N, K;
    uint lda, ldb;                 // row lengths of A and B as stored
    uint strideA, strideB, strideC; // batch strides in elements
    uint transA, transB;
    float alpha, beta;
} p;

const uint BM = 128, BN = 128, BK = 8;
shared vec4 As[BK][BM / 4]; // As[k][m/4]: op(A) tile, k-major
shared vec4 Bs[BK][BN / 4]; // Bs[k][n/4]: op(B) tile

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint lane = tid & 7u;
    uint grp = tid >> 3;
    uint colGroup = grp & 3u; // columns colGroup*32 + lane*4 .. +3
    uint rowGroup = grp >> 2; // rows rowGroup*16 .. +15
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    uint aBase = gl_WorkGroupID.z * p.strideA;
    uint bBase = gl_WorkGroupID.z * p.strideB;
    uint cBase = gl_WorkGroupID.z * p.strideC;

    vec4 acc[16];
    [[unroll]] for (uint i = 0; i < 16; i++) acc[i] = vec4(0.0);

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
        // Stage the tiles; consecutive invocations walk the operand's contiguous dimension.
        for (uint e = tid; e < BM * BK; e += 256) {
            uint mm, kk;
            if (p.transA == 0) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
            uint gm = m0 + mm, gk = k0 + kk;
            float v = 0.0;
            if (gm < p.M && gk < p.K) {
                v = p.transA == 0 ? a[aBase + gm * p.lda + gk] : a[aBase + gk * p.lda + gm];
            }
            As[kk][mm >> 2][mm & 3u] = v;
        }
        for (uint e = tid; e < BN * BK; e += 256) {
            uint nn, kk;
            if (p.transB == 0) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; }
            uint gn = n0 + nn, gk = k0 + kk;
            float v = 0.0;
            if (gn < p.N && gk < p.K) {
                v = p.transB == 0 ? b[bBase + gk * p.ldb + gn] : b[bBase + gn * p.ldb + gk];
            }
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

    [[unroll]] for (uint i = 0; i < 16; i++) {
        uint row = m0 + rowGroup * 16 + i;
        if (row >= p.M) break;
        [[unroll]] for (uint j = 0; j < 4; j++) {
            uint col = n0 + colGroup * 32 + lane * 4 + j;
            if (col >= p.N) break;
            uint idx = cBase + row * p.N + col;
            float v = p.alpha * acc[i][j];
            // beta = 0 must not read C: it may hold anything, NaN included.
            c[idx] = p.beta == 0.0 ? v : v + p.beta * c[idx];
        }
    }
}
