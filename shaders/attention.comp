#version 450
#extension GL_EXT_control_flow_attributes : require
// Bidirectional multi-head attention with a key-padding mask, forward (FlashAttention style).
// q, out are [B, L, H·Dh]; k, v [B, L, Hkv·Dh] with Hkv dividing H (grouped-query attention:
// head h reads key/value head h/(H/Hkv)); keyMask [B, L] (int, 0 = padding: no query attends to it);
// lse [B, H, L] receives each query's log-sum-exp of scores, −Inf (and out 0) for a query with
// no real key, as the CPU backend does. Scores are q·k·scale, scale = 1/√Dh (push constant).
//
// One workgroup of 64 invocations per (query tile of BQ rows, head, batch row): grid
// (⌈L/BQ⌉, H, B). The query tile is staged once in shared memory; the keys are walked in tiles
// of BK: stage K, scores into registers, a running row max and sum (online softmax), the tile's
// probabilities into shared memory, stage V over K, then out += P·V. Scores never reach
// global memory and scratch is one tile whatever L.
//
// Work split: invocations form 8 groups of 8 lanes. Group g owns query rows g·RQ .. g·RQ+RQ−1;
// lane l owns keys l, l+8, .. for the scores and head-dim vec4 columns l, l+8, .. for the
// output, so each lane holds an RQ×RK block of scores and an RQ×NC block of output in registers
// and every shared-memory load feeds several FMAs; P is stored 4 keys to a vec4 for the same
// reason. That is what counts on lavapipe, where each load instruction is a scalar loop over the
// 8 SIMD lanes (measured: even when all lanes read one address), while on GPUs the group's row
// loads are broadcasts and the lanes' K/V rows, padded by one vec4, fall into distinct banks.
// Row statistics (max, sum) are kept by every lane of the group, computed in the same order from
// the same values, hence identical.
// No subgroup built-ins: correct whatever the subgroup size.
//
// Specialization constants: D4 = ⌈Dh/4⌉ (head dim in vec4s, at most 32: Dh ≤ 128), RQ and RK
// (1, 2 or 4; BQ = 8·RQ, BK = 8·RK), chosen by the host so the shared arrays fit the device.
// Head-dim entries past Dh are staged as zeros, so they add nothing to any dot product.
// Bindings: 0 out, 1 lse, 2 q, 3 k, 4 v, 5 keyMask.
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint D4 = 1;
layout(constant_id = 1) const uint RQ = 1;
layout(constant_id = 2) const uint RK = 1;

const uint BQ = 8 * RQ;       // query rows per workgroup
const uint BK = 8 * RK;       // keys per tile
const uint KS = D4 + 1;       // padded K/V row stride in vec4s
const uint NC = (D4 + 7) / 8; // output vec4 columns per lane
const uint MAXR = 4;          // largest RQ, RK and NC (register arrays have this size)

layout(std430, binding = 0) writeonly buffer B0 { float o[]; };
layout(std430, binding = 1) writeonly buffer B1 { float lse[]; };
layout(std430, binding = 2) readonly buffer B2 { float q[]; };
layout(std430, binding = 3) readonly buffer B3 { float k[]; };
layout(std430, binding = 4) readonly buffer B4 { float v[]; };
layout(std430, binding = 5) readonly buffer B5 { int keyMask[]; };
layout(push_constant) uniform Push { uint seq, heads, kvHeads, hd; float scale; } p;

shared vec4 Qs[BQ * D4];     // query tile, row-major
shared vec4 KVs[BK * KS];    // K tile, then V tile (padded rows)
shared vec4 Ps[BQ * BK / 4]; // probabilities exp(s − running max) of the tile, 4 keys a vec4
shared vec4 Ms[BQ * 2];      // per-lane partial row maxima of the tile, 4 lanes a vec4
shared uint okS[BK];         // 1 for a real key of the tile, 0 for padding or past L

// STAGE copies rows r0 .. r0+ROWS−1 of one head of SRC, which starts at SRC[B0] with rows of
// W floats, into DST (row stride STRIDE vec4s), zeros past Dh and past L. Consecutive
// invocations read consecutive floats (coalesced).
#define STAGE(DST, SRC, B0, W, r0, ROWS, STRIDE)                           \
    for (uint e = tid; e < (ROWS) * D4 * 4; e += 64) {                     \
        uint rr = e / (D4 * 4), d = e % (D4 * 4), pos = (r0) + rr;         \
        float x = 0.0;                                                     \
        if (d < p.hd && pos < p.seq) x = SRC[(B0) + pos * (W) + d];        \
        DST[rr * (STRIDE) + (d >> 2)][d & 3u] = x;                         \
    }

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint lane = tid & 7u, grp = tid >> 3;
    uint q0 = gl_WorkGroupID.x * BQ, h = gl_WorkGroupID.y, bi = gl_WorkGroupID.z;
    uint dm = p.heads * p.hd, kdm = p.kvHeads * p.hd;
    uint base = bi * p.seq * dm + h * p.hd; // (bi, position 0, head h, column 0)
    uint kbase = bi * p.seq * kdm + (h / (p.heads / p.kvHeads)) * p.hd; // its key/value head
    float NEG = uintBitsToFloat(0xff800000u); // −Inf: a masked score, or no key yet

    STAGE(Qs, q, base, dm, q0, BQ, D4);

    float m[MAXR], l[MAXR]; // running max and sum of exp(s − m) per owned row
    vec4 acc[MAXR * MAXR];  // [row r][column n]: unnormalised output
    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        m[r] = NEG;
        l[r] = 0.0;
        [[unroll]] for (uint n = 0; n < MAXR; n++) acc[r * MAXR + n] = vec4(0.0);
    }

    for (uint k0 = 0; k0 < p.seq; k0 += BK) {
        barrier(); // the previous tile's reads of KVs and Ps are done (and Qs is staged)
        STAGE(KVs, k, kbase, kdm, k0, BK, KS);
        if (tid < BK) {
            uint ok = 0u; // an explicit branch: no mask read past L
            if (k0 + tid < p.seq) ok = keyMask[bi * p.seq + k0 + tid] != 0 ? 1u : 0u;
            okS[tid] = ok;
        }
        barrier();

        // Scores s[r][c] of row grp·RQ+r against key lane+8c.
        float s[MAXR][MAXR];
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            [[unroll]] for (uint c = 0; c < MAXR; c++) s[r][c] = 0.0;
        }
        for (uint d = 0; d < D4; d++) {
            vec4 kv[MAXR];
            [[unroll]] for (uint c = 0; c < MAXR; c++) {
                if (c < RK) kv[c] = KVs[(lane + 8 * c) * KS + d];
            }
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                if (r < RQ) {
                    vec4 qv = Qs[(grp * RQ + r) * D4 + d];
                    [[unroll]] for (uint c = 0; c < MAXR; c++) {
                        if (c < RK) s[r][c] += dot(qv, kv[c]);
                    }
                }
            }
        }
        // Scale, mask, and this lane's partial max per row.
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            if (r < RQ) {
                float pm = NEG;
                [[unroll]] for (uint c = 0; c < MAXR; c++) {
                    if (c < RK) {
                        s[r][c] = okS[lane + 8 * c] != 0 ? s[r][c] * p.scale : NEG;
                        pm = max(pm, s[r][c]);
                    }
                }
                Ms[(grp * RQ + r) * 2 + (lane >> 2)][lane & 3u] = pm;
            }
        }
        barrier();

        // New running max, rescale factor and the tile's probabilities. Masked scores give 0
        // explicitly (never exp(−Inf − −Inf)); alpha is 0 while the row has had no real key,
        // when l and acc are still 0 anyway.
        float alpha[MAXR];
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            alpha[r] = 1.0;
            if (r < RQ) {
                uint row = grp * RQ + r;
                float mt = m[r];
                vec4 pm = max(Ms[row * 2], Ms[row * 2 + 1]);
                mt = max(mt, max(max(pm.x, pm.y), max(pm.z, pm.w)));
                alpha[r] = m[r] == NEG ? 0.0 : exp(m[r] - mt);
                m[r] = mt;
                [[unroll]] for (uint c = 0; c < MAXR; c++) {
                    uint j = lane + 8 * c;
                    if (c < RK) Ps[row * (BK / 4) + (j >> 2)][j & 3u] = s[r][c] == NEG ? 0.0 : exp(s[r][c] - mt);
                }
            }
        }
        STAGE(KVs, v, kbase, kdm, k0, BK, KS); // every K read happened before the barrier above
        barrier();

        // acc = acc·alpha + P·V, and the row sums from the same P values.
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            l[r] *= alpha[r];
            [[unroll]] for (uint n = 0; n < MAXR; n++) acc[r * MAXR + n] *= alpha[r];
        }
        // Four keys per step: one vec4 of P per row is a broadcast, and each V load feeds RQ FMAs.
        for (uint j4 = 0; j4 < BK / 4; j4++) {
            vec4 vv[4][MAXR]; // [key 4·j4+e][column n]
            [[unroll]] for (uint e = 0; e < 4; e++) {
                [[unroll]] for (uint n = 0; n < MAXR; n++) {
                    uint c = lane + 8 * n;
                    vv[e][n] = vec4(0.0); // no speculative load past the row: if, not ?:
                    if (n < NC && c < D4) vv[e][n] = KVs[(4 * j4 + e) * KS + c];
                }
            }
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                if (r < RQ) {
                    vec4 pv = Ps[(grp * RQ + r) * (BK / 4) + j4];
                    l[r] += (pv.x + pv.y) + (pv.z + pv.w);
                    [[unroll]] for (uint n = 0; n < MAXR; n++) {
                        if (n < NC) acc[r * MAXR + n] += pv.x * vv[0][n] + pv.y * vv[1][n] + pv.z * vv[2][n] + pv.w * vv[3][n];
                    }
                }
            }
        }
    }

    // Normalise and write; a row with no real key gets out 0 and lse −Inf.
    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        uint i = q0 + grp * RQ + r;
        if (r < RQ && i < p.seq) {
            float inv = l[r] > 0.0 ? 1.0 / l[r] : 0.0;
            [[unroll]] for (uint n = 0; n < MAXR; n++) {
                uint c = lane + 8 * n;
                if (n < NC && c < D4) {
                    vec4 ov = acc[r * MAXR + n] * inv;
                    [[unroll]] for (uint e = 0; e < 4; e++) {
                        if (4 * c + e < p.hd) o[base + i * dm + 4 * c + e] = ov[e];
                    }
                }
            }
            if (lane == 0) lse[(bi * p.heads + h) * p.seq + i] = l[r] > 0.0 ? m[r] + log(l[r]) : NEG;
        }
    }
}
