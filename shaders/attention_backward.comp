#version 450
#extension GL_EXT_control_flow_attributes : require
// Attention backward, FlashAttention-2 style, in two passes that need no atomics (OP,
// specialization constant 0). Both recompute P_ij = exp(q_i·k_j·scale − lse_i) from the
// forward's lse instead of storing it, with dP_ij = dO_i·v_j and dS_ij = P_ij·(dP_ij − D_i),
// D_i = Σ dO_i ⊙ O_i. P is 0 for a padding key, and for every key of a query whose lse is −Inf
// (no real key: its output is the constant 0, so its gradients are 0).
// OP 0, one workgroup per (query tile of BQ rows, head, batch row), walking every key tile:
//      dq_i = scale·Σ_j dS_ij·k_j; it also writes D_i into Dbuf for OP 1.
// OP 1, one workgroup per (key tile of BK keys, key/value head, batch row), walking every query
//      tile of every query head that shares the key/value head (grouped-query attention: q and
//      dO are [B, L, H·Dh], k, v, dk, dv [B, L, Hkv·Dh], head h reads key/value head h/(H/Hkv)):
//      dk_j = scale·Σ_i dS_ij·q_i and dv_j = Σ_i P_ij·dO_i. Runs after OP 0 (it reads Dbuf).
// Grid (tiles, H in OP 0 or Hkv in OP 1, B); 64 invocations as 8 groups of 8 lanes, as in attention.comp (which says
// why): the group owns the output rows (queries in OP 0, keys in OP 1), whose loads are
// broadcasts on GPUs; lanes own the other side's rows for the score tile (padded rows in shared
// memory, no bank conflicts) and head-dim vec4 columns l, l+8, .. for the accumulation, each
// lane keeping register blocks so that every shared load feeds several FMAs. No subgroup
// built-ins: correct whatever the subgroup size.
// Specialization constants: OP, D4 = ⌈Dh/4⌉ (≤ 32), RQ and RK (1, 2 or 4; BQ = 8·RQ query
// rows, BK = 8·RK keys per tile), chosen by the host so the shared arrays fit the device.
// Bindings: 0 dq (OP 0) or dk (OP 1), 1 dv (OP 1; OP 0 does not touch it), 2 Dbuf [B, H, L]
// (written by OP 0, read by OP 1), 3 dOut, 4 q, 5 k, 6 v, 7 out (OP 0), 8 lse, 9 keyMask.
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const uint D4 = 1;
layout(constant_id = 2) const uint RQ = 1;
layout(constant_id = 3) const uint RK = 1;

const uint BQ = 8 * RQ;
const uint BK = 8 * RK;
const uint KS = D4 + 1;       // padded row stride of the lane-indexed tiles
const uint NC = (D4 + 7) / 8; // accumulator vec4 columns per lane
const uint MAXR = 4;          // largest RQ, RK and NC (register arrays have this size)
// Row strides: the lane-indexed side (keys in OP 0, queries in OP 1) is padded.
const uint QST = OP == 0 ? D4 : KS;
const uint KST = OP == 0 ? KS : D4;

layout(std430, binding = 0) buffer B0 { float dA[]; };
layout(std430, binding = 1) buffer B1 { float dB[]; };
layout(std430, binding = 2) buffer B2 { float Dbuf[]; };
layout(std430, binding = 3) readonly buffer B3 { float g[]; };
layout(std430, binding = 4) readonly buffer B4 { float q[]; };
layout(std430, binding = 5) readonly buffer B5 { float k[]; };
layout(std430, binding = 6) readonly buffer B6 { float v[]; };
layout(std430, binding = 7) readonly buffer B7 { float o[]; };
layout(std430, binding = 8) readonly buffer B8 { float lse[]; };
layout(std430, binding = 9) readonly buffer B9 { int keyMask[]; };
layout(push_constant) uniform Push { uint seq, heads, kvHeads, hd; float scale; } p;

shared vec4 Qs[BQ * QST];
shared vec4 Gs[BQ * QST];                  // dOut tile
shared vec4 Ks[BK * KST];
shared vec4 Vs[BK * KST];
shared float Ss[BQ * BK];                  // dS tile: [query][key] in OP 0, [key][query] in OP 1
shared float Ps[OP == 0 ? 1 : BQ * BK];    // P tile, [key][query] (OP 1 only)
shared uint okS[BK];                       // 1 for a real key of the tile (OP 0)

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

// base, lrow: the query head's (bi, position 0, head, column 0) and lse/D row; kbase: its
// key/value head's start in k, v, dk, dv, whose rows are kdm wide.
uint tid, lane, grp, bi, dm, kdm, base, kbase, lrow;
float NEG;

// dq for the query tile at q0 (OP 0).
void queryPass(uint q0) {
    STAGE(Qs, q, base, dm, q0, BQ, QST);
    STAGE(Gs, g, base, dm, q0, BQ, QST);
    barrier();
    // D and lse of the group's rows, the same in every lane (the same reads in the same order).
    float Di[MAXR], li[MAXR];
    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        uint i = q0 + grp * RQ + r;
        Di[r] = 0.0;
        li[r] = NEG;
        if (r < RQ && i < p.seq) {
            float dsum = 0.0;
            for (uint d = 0; d < p.hd; d++) dsum += Gs[(grp * RQ + r) * QST + (d >> 2)][d & 3u] * o[base + i * dm + d];
            Di[r] = dsum;
            li[r] = lse[lrow + i];
            if (lane == 0) Dbuf[lrow + i] = dsum;
        }
    }

    vec4 acc[MAXR * MAXR]; // [row r][column n]
    [[unroll]] for (uint x = 0; x < MAXR * MAXR; x++) acc[x] = vec4(0.0);
    for (uint k0 = 0; k0 < p.seq; k0 += BK) {
        barrier(); // the previous tile's reads of Ks and Ss are done
        STAGE(Ks, k, kbase, kdm, k0, BK, KST);
        STAGE(Vs, v, kbase, kdm, k0, BK, KST);
        if (tid < BK) {
            uint ok = 0u; // an explicit branch: no mask read past L
            if (k0 + tid < p.seq) ok = keyMask[bi * p.seq + k0 + tid] != 0 ? 1u : 0u;
            okS[tid] = ok;
        }
        barrier();

        // s = q·k and dp = dO·v for row grp·RQ+r and key lane+8c.
        float s[MAXR][MAXR], dp[MAXR][MAXR];
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            [[unroll]] for (uint c = 0; c < MAXR; c++) {
                s[r][c] = 0.0;
                dp[r][c] = 0.0;
            }
        }
        for (uint d = 0; d < D4; d++) {
            vec4 kv[MAXR], vv[MAXR];
            [[unroll]] for (uint c = 0; c < MAXR; c++) {
                if (c < RK) {
                    kv[c] = Ks[(lane + 8 * c) * KST + d];
                    vv[c] = Vs[(lane + 8 * c) * KST + d];
                }
            }
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                if (r < RQ) {
                    vec4 qv = Qs[(grp * RQ + r) * QST + d];
                    vec4 gv = Gs[(grp * RQ + r) * QST + d];
                    [[unroll]] for (uint c = 0; c < MAXR; c++) {
                        if (c < RK) {
                            s[r][c] += dot(qv, kv[c]);
                            dp[r][c] += dot(gv, vv[c]);
                        }
                    }
                }
            }
        }
        [[unroll]] for (uint r = 0; r < MAXR; r++) {
            if (r < RQ) {
                [[unroll]] for (uint c = 0; c < MAXR; c++) {
                    if (c < RK) {
                        uint j = lane + 8 * c;
                        float pr = (okS[j] != 0 && li[r] != NEG) ? exp(s[r][c] * p.scale - li[r]) : 0.0;
                        Ss[(grp * RQ + r) * BK + j] = pr * (dp[r][c] - Di[r]);
                    }
                }
            }
        }
        barrier();

        // acc += dS·K over the tile's keys.
        for (uint j = 0; j < BK; j++) {
            vec4 kv[MAXR];
            [[unroll]] for (uint n = 0; n < MAXR; n++) {
                uint c = lane + 8 * n;
                kv[n] = vec4(0.0);
                if (n < NC && c < D4) kv[n] = Ks[j * KST + c];
            }
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                if (r < RQ) {
                    float ds = Ss[(grp * RQ + r) * BK + j];
                    [[unroll]] for (uint n = 0; n < MAXR; n++) {
                        if (n < NC) acc[r * MAXR + n] += ds * kv[n];
                    }
                }
            }
        }
    }

    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        uint i = q0 + grp * RQ + r;
        if (r < RQ && i < p.seq) {
            [[unroll]] for (uint n = 0; n < MAXR; n++) {
                uint c = lane + 8 * n;
                if (n < NC && c < D4) {
                    vec4 dv = acc[r * MAXR + n] * p.scale;
                    [[unroll]] for (uint e = 0; e < 4; e++) {
                        if (4 * c + e < p.hd) dA[base + i * dm + 4 * c + e] = dv[e];
                    }
                }
            }
        }
    }
}

// dk and dv for the key tile at k0 of key/value head kh (OP 1), summed over its query heads.
void keyPass(uint k0, uint kh) {
    STAGE(Ks, k, kbase, kdm, k0, BK, KST);
    STAGE(Vs, v, kbase, kdm, k0, BK, KST);
    // Whether each of the group's keys is real; a padding key gets dk = dv = 0.
    bool ok[MAXR];
    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        uint j = k0 + grp * RK + r;
        ok[r] = false;
        if (r < RK && j < p.seq) ok[r] = keyMask[bi * p.seq + j] != 0;
    }

    vec4 aK[MAXR * MAXR], aV[MAXR * MAXR]; // [key r][column n]
    [[unroll]] for (uint x = 0; x < MAXR * MAXR; x++) {
        aK[x] = vec4(0.0);
        aV[x] = vec4(0.0);
    }
    uint group = p.heads / p.kvHeads;
    for (uint h = kh * group; h < (kh + 1) * group; h++) {
        base = bi * p.seq * dm + h * p.hd;
        lrow = (bi * p.heads + h) * p.seq;
        for (uint q0 = 0; q0 < p.seq; q0 += BQ) {
            barrier(); // the previous tile's reads of Qs, Gs, Ps and Ss are done (and Ks, Vs staged)
            STAGE(Qs, q, base, dm, q0, BQ, QST);
            STAGE(Gs, g, base, dm, q0, BQ, QST);
            barrier();

            // lse and D of this lane's queries lane+8c (−Inf past L: P = 0 there).
            float li[MAXR], Di[MAXR];
            [[unroll]] for (uint c = 0; c < MAXR; c++) {
                uint i = q0 + lane + 8 * c;
                li[c] = NEG;
                Di[c] = 0.0;
                if (c < RQ && i < p.seq) {
                    li[c] = lse[lrow + i];
                    Di[c] = Dbuf[lrow + i];
                }
            }
            // s = k·q and dp = v·dO for key grp·RK+r and query lane+8c.
            float s[MAXR][MAXR], dp[MAXR][MAXR];
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                [[unroll]] for (uint c = 0; c < MAXR; c++) {
                    s[r][c] = 0.0;
                    dp[r][c] = 0.0;
                }
            }
            for (uint d = 0; d < D4; d++) {
                vec4 qv[MAXR], gv[MAXR];
                [[unroll]] for (uint c = 0; c < MAXR; c++) {
                    if (c < RQ) {
                        qv[c] = Qs[(lane + 8 * c) * QST + d];
                        gv[c] = Gs[(lane + 8 * c) * QST + d];
                    }
                }
                [[unroll]] for (uint r = 0; r < MAXR; r++) {
                    if (r < RK) {
                        vec4 kv = Ks[(grp * RK + r) * KST + d];
                        vec4 vv = Vs[(grp * RK + r) * KST + d];
                        [[unroll]] for (uint c = 0; c < MAXR; c++) {
                            if (c < RQ) {
                                s[r][c] += dot(kv, qv[c]);
                                dp[r][c] += dot(vv, gv[c]);
                            }
                        }
                    }
                }
            }
            [[unroll]] for (uint r = 0; r < MAXR; r++) {
                if (r < RK) {
                    [[unroll]] for (uint c = 0; c < MAXR; c++) {
                        if (c < RQ) {
                            uint jr = grp * RK + r, i = lane + 8 * c;
                            float pr = (ok[r] && li[c] != NEG) ? exp(s[r][c] * p.scale - li[c]) : 0.0;
                            Ps[jr * BQ + i] = pr;
                            Ss[jr * BQ + i] = pr * (dp[r][c] - Di[c]);
                        }
                    }
                }
            }
            barrier();

            // aV += P·dO and aK += dS·Q over the tile's queries.
            for (uint i = 0; i < BQ; i++) {
                vec4 qv[MAXR], gv[MAXR];
                [[unroll]] for (uint n = 0; n < MAXR; n++) {
                    uint c = lane + 8 * n;
                    qv[n] = vec4(0.0);
                    gv[n] = vec4(0.0);
                    if (n < NC && c < D4) {
                        qv[n] = Qs[i * QST + c];
                        gv[n] = Gs[i * QST + c];
                    }
                }
                [[unroll]] for (uint r = 0; r < MAXR; r++) {
                    if (r < RK) {
                        float pr = Ps[(grp * RK + r) * BQ + i];
                        float ds = Ss[(grp * RK + r) * BQ + i];
                        [[unroll]] for (uint n = 0; n < MAXR; n++) {
                            if (n < NC) {
                                aV[r * MAXR + n] += pr * gv[n];
                                aK[r * MAXR + n] += ds * qv[n];
                            }
                        }
                    }
                }
            }
        }
    }

    [[unroll]] for (uint r = 0; r < MAXR; r++) {
        uint j = k0 + grp * RK + r;
        if (r < RK && j < p.seq) {
            [[unroll]] for (uint n = 0; n < MAXR; n++) {
                uint c = lane + 8 * n;
                if (n < NC && c < D4) {
                    vec4 dk = aK[r * MAXR + n] * p.scale, dv = aV[r * MAXR + n];
                    [[unroll]] for (uint e = 0; e < 4; e++) {
                        if (4 * c + e < p.hd) {
                            dA[kbase + j * kdm + 4 * c + e] = dk[e];
                            dB[kbase + j * kdm + 4 * c + e] = dv[e];
                        }
                    }
                }
            }
        }
    }
}

void main() {
    tid = gl_LocalInvocationIndex;
    lane = tid & 7u;
    grp = tid >> 3;
    bi = gl_WorkGroupID.z;
    dm = p.heads * p.hd;
    kdm = p.kvHeads * p.hd;
    NEG = uintBitsToFloat(0xff800000u); // −Inf
    if (OP == 0) {
        uint h = gl_WorkGroupID.y;
        base = bi * p.seq * dm + h * p.hd;
        kbase = bi * p.seq * kdm + (h / (p.heads / p.kvHeads)) * p.hd;
        lrow = (bi * p.heads + h) * p.seq;
        queryPass(gl_WorkGroupID.x * BQ);
    } else {
        uint kh = gl_WorkGroupID.y;
        kbase = bi * p.seq * kdm + kh * p.hd;
        keyPass(gl_WorkGroupID.x * BK, kh);
    }
}
