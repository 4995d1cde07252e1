#version 450
// One step of the unmasking sampler (core.Backend.UnmaskStep, whose reference is
// core/cpu/unmask.go), in two dispatches over the items (row, j) of the current block,
// item = row·L + (j − blockStart) (a grid-stride loop covers any count):
// OP 0 (draw): an item whose row is active and whose position is still masked draws its token
//      from the support of p = softmax(logits/T) (MaskID out, top-k, top-p; at T = 0 the argmax
//      over every id but MaskID) and writes a record: the remasking score, the token, its
//      log-probability, the entropy, the support's thresholds, and flag 1. Other items write
//      flag 0, so no record of an earlier call is ever read. An item whose tempered logits are
//      not all finite records MaskID, NaN log-probability and entropy, no cut and score +Inf,
//      so that it is revealed first (the fault rule of core.UnmaskParams).
// OP 1 (reveal): a flagged item ranks itself among its row's flagged items (best score first,
//      ties to the lower position); the first p.reveal are revealed: token, step, log-probability
//      and entropy written. Every flagged item, revealed or not, writes its support row (0
//      inside, −Inf outside): the likelihood of the positions left masked needs it.
// An item is handled by LANES invocations (specialization constant 2): LANES = WG, one
// workgroup per item with reductions through shared memory, for large vocabularies; or
// LANES = 1, one invocation per item and no barrier at all, for small ones (a shared-memory
// reduction costs log₂ WG barriers, and a barrier is what a CPU implementation such as lavapipe
// pays for most). No other value is valid: with several items per workgroup, items would
// reach the barriers of data-dependent reductions apart.
// Bindings: 0 records, 1 logits, 2 active (int), 3 tokens (int), 4 reveal steps (int), 5 logp,
// 6 entropy, 7 support (any buffer, untouched, when p.hasSupport = 0). OP 0 writes only 0.
//
// Precision: everything is fp32 and the random numbers are core.Hash32 bit for bit. The CPU
// keeps the Gumbel keys and the top-p masses in float64, so this shader can pick another token
// (or another top-p cut) than the CPU in a near-tie, when two keys, or the mass above a token
// and TopP, differ by about 1e-6 relative; greedy argmax, top-k and the random remasking
// scores are exact. A Gumbel key here is accurate to about 5e-7 absolute (see gumbel). A top-p
// cut that is an exact tie in real arithmetic (n tokens tied at the max, TopP·n an integer) drops
// the token, as the CPU does unless its float64 sum rounds the other way. Positions whose scores
// are equal in real arithmetic (equal distributions, say) are ordered by rounding, which differs
// between the backends as it does between any two summation orders.
// Workgroup reductions go through shared memory only (no subgroup operations), so the code is
// correct whatever the subgroup size; the workgroup size WG must be a power of two.
layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const uint WG = 64;
layout(constant_id = 2) const uint LANES = 64;

// One record per item, written by OP 0 and read by OP 1. kthKey, pKey and pId describe the
// support (see inSupport).
struct Rec {
    float score;
    int token;
    float logp;
    float entropy;
    uint kthKey;
    uint pKey;
    uint pId;
    uint flag;
};

layout(std430, binding = 0) buffer B0 { Rec rec[]; };
layout(std430, binding = 1) readonly buffer B1 { float x[]; };
layout(std430, binding = 2) readonly buffer B2 { int act[]; };
layout(std430, binding = 3) buffer B3 { int tokens[]; };
layout(std430, binding = 4) buffer B4 { int revealStep[]; };
layout(std430, binding = 5) buffer B5 { float logp[]; };
layout(std430, binding = 6) buffer B6 { float entropy[]; };
layout(std430, binding = 7) buffer B7 { float support[]; };
// topK is 0 unless 0 < TopK < V − 1 (the CPU's test); topP is 0 unless 0 < TopP < 1; greedy is
// 1 when the temperature is not positive; invTemp is 1/T rounded on the host, as the CPU does.
layout(push_constant) uniform Push {
    uint rows, seq, c, v, promptLen, blockStart, blockLen, reveal, step;
    float invTemp;
    uint greedy, topK;
    float topP;
    uint remasking, seed, maskID, hasSupport;
    uint untempered; // low-confidence scores by log softmax(logits) over the whole vocabulary
    uint rowOffset;  // row r's random draws are keyed as row rowOffset + r (core.UnmaskParams)
} p;

const uint NONE = 0xffffffffu;
const uint STREAM_GUMBEL = 1u;
const uint STREAM_REMASK = 2u;

shared float shS[WG];
shared float shM[WG];
shared float shK[WG];
shared uint shI[WG];

// lane is this invocation's index among its item's LANES invocations.
uint lane;

// ---- core/rng.go, bit for bit ----

uint mix32(uint h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint hash32(uint seed, uint stream, uint step, uint pos, uint word) {
    uint h = mix32(seed ^ 0x9e3779b9u);
    h = mix32(h ^ stream * 0x27d4eb2fu);
    h = mix32(h ^ step * 0x165667b1u);
    h = mix32(h ^ pos * 0xd3a2646cu);
    return mix32(h ^ word * 0xfd7046c5u);
}

// pow2 is 2^e for a normal exponent, built from its bits (exp2 need not be exact).
float pow2(int e) { return uintBitsToFloat(uint(e + 127) << 23); }

// unitHalf is (h + 0.5)/2³² rounded to the nearest float32, ties to even: exactly Go's
// float32(core.Uniform(...)). Integer rounding, because float(h) + 0.5 would round twice.
float unitHalf(uint h) {
    if (h < 0x800000u) return float(2u * h + 1u) * pow2(-33); // 2h + 1 < 2²⁴: exact
    // 2h + 1 has msb + 2 bits; keep the top 24 and drop s = msb − 22 (1 to 9) bits.
    uint s = uint(findMSB(h)) - 22u;
    uint m = h >> (s - 1u);                          // (2h + 1) >> s
    uint rest = ((h << 1) | 1u) & ((1u << s) - 1u);   // the dropped bits of 2h + 1
    uint halfway = 1u << (s - 1u);
    if (rest > halfway || (rest == halfway && (m & 1u) != 0u)) m++;
    return float(m) * pow2(int(s) - 33);             // m ≤ 2²⁴: exact, and so is the scaling
}

// gumbel is g = −log(−log u), u = (h + 0.5)/2³², the CPU's noise in fp32. −log u is computed
// from u below 1/2 and from w = 1 − u (which unitHalf(~h) gives exactly rounded) above it, so u
// is never rounded to 1 and −log u never loses its relative precision near u = 1: there
// −log(1 − w) = 2·atanh(w/(2 − w)), a series in s ≤ 1/3 whose terms beyond s¹⁵ are below
// 2e-9 relative. What is left is log's own error near 1 (Vulkan allows 2⁻²¹ absolute), which
// makes g accurate to about 5e-7 absolute.
float gumbel(uint h) {
    float e;
    if (h < 0x80000000u) {
        e = -log(unitHalf(h));
    } else {
        float w = unitHalf(~h);
        float s = w / (2.0 - w);
        float s2 = s * s;
        e = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 +
            s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0))))))));
    }
    return -log(e);
}

// ---- ordering ----

// orderKey maps a float to a uint with the same order (−0 taken as +0, as float compares do),
// so that thresholds can be searched bit by bit.
uint orderKey(float z) {
    uint b = floatBitsToUint(z);
    if (b == 0x80000000u) b = 0u;
    return (b & 0x80000000u) != 0u ? ~b : b | 0x80000000u;
}

float fromKey(uint k) { return uintBitsToFloat((k & 0x80000000u) != 0u ? k & 0x7fffffffu : ~k); }

float negInf() { return uintBitsToFloat(0xff800000u); }

// finite tests the exponent bits, which no fast-math assumption can fold away.
bool finite(float z) { return (floatBitsToUint(z) & 0x7f800000u) != 0x7f800000u; }

// better orders (key, id) candidates: the larger key, and on equal keys the lower id (NONE,
// the empty candidate, loses to every real one).
bool better(float k, uint i, float bk, uint bi) { return k > bk || (k == bk && i < bi); }

// ---- reductions over an item's lanes (every lane gets the result) ----

// reduceDraw sums s and m and keeps the best (k, i) over the workgroup.
void reduceDraw(inout float s, inout float m, inout float k, inout uint i) {
    if (LANES == 1u) return;
    uint t = gl_LocalInvocationIndex;
    shS[t] = s;
    shM[t] = m;
    shK[t] = k;
    shI[t] = i;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (t < h) {
            shS[t] += shS[t + h];
            shM[t] += shM[t + h];
            if (better(shK[t + h], shI[t + h], shK[t], shI[t])) {
                shK[t] = shK[t + h];
                shI[t] = shI[t + h];
            }
        }
        barrier();
    }
    s = shS[0];
    m = shM[0];
    k = shK[0];
    i = shI[0];
    barrier();
}

// reduceSum is a fixed tree of additions: the same inputs give the same sum, and since the
// terms are never negative, dropping terms never increases it (the top-p search relies on both).
float reduceSum(float a) {
    if (LANES == 1u) return a;
    uint t = gl_LocalInvocationIndex;
    shS[t] = a;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (t < h) shS[t] += shS[t + h];
        barrier();
    }
    float r = shS[0];
    barrier();
    return r;
}

uint reduceCount(uint n) {
    if (LANES == 1u) return n;
    uint t = gl_LocalInvocationIndex;
    shI[t] = n;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (t < h) shI[t] += shI[t + h];
        barrier();
    }
    uint r = shI[0];
    barrier();
    return r;
}

// ---- the distribution ----

// z is a tempered logit; precise, so that no pass fuses the product into a later add and every
// pass (and OP 1) sees the same value.
float z(uint base, uint i) {
    precise float r = x[base + i] * p.invTemp;
    return r;
}

// inSupport: id i with tempered logit zi is in the support, given the thresholds OP 0 found:
// MaskID never; then top-k keeps keys ≥ kthKey, and top-p keeps the (key, id) pairs from
// (pKey, pId) up. Without top-k or top-p the thresholds are 0 and keep everything.
bool inSupport(uint i, float zi, uint kthKey, uint pKey, uint pId) {
    if (i == p.maskID) return false;
    if (p.greedy != 0u) return true;
    uint k = orderKey(zi);
    return k >= kthKey && (k > pKey || (k == pKey && i >= pId));
}

// The top-p mass threshold tau = TopP·total as an unevaluated sum tauHi + tauLo, exact.
float tauHi, tauLo;

// tauSplit sets tau = a·b exactly by Dekker's product (fma would do it in one step, but Vulkan
// lets fma round twice). A tau flushed to 0 by a denormal TopP is raised to the least normal
// float, or nothing at all would be kept.
void tauSplit(float a, float b) {
    precise float hi = a * b;
    precise float ca = 4097.0 * a;
    precise float ah = ca - (ca - a);
    precise float al = a - ah;
    precise float cb = 4097.0 * b;
    precise float bh = cb - (cb - b);
    precise float bl = b - bh;
    precise float lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl;
    tauHi = hi;
    tauLo = lo;
    if (!(hi > 0.0)) {
        tauHi = 1.17549435e-38;
        tauLo = 0.0;
    }
}

// atLeastTau reports x ≥ tauHi + tauLo: x − tauHi is exact when x is near tauHi (Sterbenz),
// and far from it the sign cannot be wrong.
bool atLeastTau(float x) {
    precise float d = x - tauHi;
    return d >= tauLo;
}

// massFrom is this invocation's part of Σ exp(z − mx) over the top-k support's ids with key ≥ lo.
// The accumulator is precise so that every call sums in the same order: the search needs one
// function of lo, which then never increases with lo.
float massFrom(uint base, float mx, uint kthKey, uint lo) {
    precise float a = 0.0;
    for (uint i = lane; i < p.v; i += LANES) {
        if (i == p.maskID) continue;
        float zi = z(base, i);
        uint k = orderKey(zi);
        if (k >= kthKey && k >= lo) a += exp(zi - mx);
    }
    return a;
}

// draw handles one item of OP 0.
void draw(uint item) {
    uint t = lane;
    uint row = item / p.blockLen;
    uint j = p.blockStart + item % p.blockLen;
    uint ci = row * p.c + j;
    uint rkey = (p.rowOffset + row) * p.c + j; // the counter of this position's random draws
    if (act[row] == 0 || revealStep[ci] >= 0) {
        if (t == 0u) rec[item].flag = 0u;
        return;
    }
    uint base = (row * p.seq + p.promptLen + j) * p.v;

    // The largest tempered logit over every id but MaskID, the lowest id on ties: the greedy
    // token, and the max the support's softmax is taken from (top-k and top-p keep it). s
    // counts the logits that are not finite meanwhile; it is 0 again when the item goes on.
    float s = 0.0, m = 0.0, mx = negInf();
    uint best = NONE;
    for (uint i = t; i < p.v; i += LANES) {
        float zi = z(base, i);
        if (!finite(zi)) s += 1.0;
        if (i != p.maskID && better(zi, i, mx, best)) {
            mx = zi;
            best = i;
        }
    }
    reduceDraw(s, m, mx, best);
    if (s != 0.0) {
        float nan = uintBitsToFloat(0x7fc00000u);
        if (t == 0u) rec[item] = Rec(uintBitsToFloat(0x7f800000u), int(p.maskID), nan, nan, 0u, 0u, 0u, 1u);
        return;
    }

    uint kthKey = 0u, pKey = 0u, pId = 0u;
    if (p.greedy == 0u && p.topK != 0u) {
        // The k-th largest key, ties kept: the largest y with #{key ≥ y} ≥ k, bit by bit
        // (32 counting passes, O(V) each).
        uint y = 0u;
        for (int b = 31; b >= 0; b--) {
            uint cand = y | (1u << b);
            uint n = 0u;
            for (uint i = t; i < p.v; i += LANES) {
                if (i != p.maskID && orderKey(z(base, i)) >= cand) n++;
            }
            if (reduceCount(n) >= p.topK) y = cand;
        }
        kthKey = y;
    }
    if (p.greedy == 0u && p.topP != 0.0) {
        // The CPU walks the support in ascending (z, id) order and drops tokens while the
        // cumulative mass stays ≤ 1 − TopP: a token is dropped exactly when the mass of the
        // tokens after it in that order is ≥ TopP, i.e. ≥ tau in unnormalised terms. The kept
        // set is therefore every (key, id) from a boundary pair up. Its key pKey is the largest y
        // with massFrom(y) ≥ tau (32 passes, O(V) each); within the tie group at pKey, whose
        // members all weigh e, the member with q higher ids above it is kept when
        // a0 + q·e < tau, a0 being the mass above pKey: the r highest ids are kept.
        // tau = TopP·total is kept exact, as hi + lo: when the masses are exact too (every kept
        // token tied at the max, so each weighs 1) the cut then falls where real arithmetic, and
        // so the CPU's float64, puts it, even when TopP·n is within an fp32 rounding of an integer.
        tauSplit(p.topP, reduceSum(massFrom(base, mx, kthKey, 0u)));
        uint y = 0u;
        for (int b = 31; b >= 0; b--) {
            uint cand = y | (1u << b);
            if (atLeastTau(reduceSum(massFrom(base, mx, kthKey, cand)))) y = cand;
        }
        pKey = y;
        float a0 = y == NONE ? 0.0 : reduceSum(massFrom(base, mx, kthKey, y + 1u));
        uint n = 0u;
        for (uint i = t; i < p.v; i += LANES) {
            if (i != p.maskID && orderKey(z(base, i)) == y && y >= kthKey) n++;
        }
        uint group = reduceCount(n);
        if (group > 1u) {
            precise float e = exp(fromKey(y) - mx);
            uint r = group;
            if (e > 0.0) {
                // r = #{q ≥ 0 : a0 + q·e < tau}, from a division, then corrected by the very
                // comparison that defines it (the quotient's rounding can be off by one).
                r = uint(clamp(ceil((tauHi - a0) / e), 1.0, float(group)));
                for (;;) {
                    precise float below = a0 + float(r - 1u) * e;
                    if (r <= 1u || !atLeastTau(below)) break;
                    r--;
                }
                for (;;) {
                    precise float next = a0 + float(r) * e;
                    if (r >= group || atLeastTau(next)) break;
                    r++;
                }
            }
            if (r < group) {
                // The r-th largest id of the group: the largest id y with #{id ≥ y} ≥ r.
                uint yi = 0u;
                for (int b = findMSB(p.v - 1u); b >= 0; b--) {
                    uint cand = yi | (1u << b);
                    uint c = 0u;
                    for (uint i = t; i < p.v; i += LANES) {
                        if (i >= cand && i != p.maskID && orderKey(z(base, i)) == y) c++;
                    }
                    if (reduceCount(c) >= r) yi = cand;
                }
                pId = yi;
            }
        }
    }

    // Over the support: Σ e, e = exp(z − mx), and Σ e·(mx − z), which give lse = mx + log Σe
    // and the entropy H = log Σe + Σe(mx − z)/Σe (two non-negative terms); and, when sampling,
    // the Gumbel-max token, argmax of z + g with ties to the lower id.
    float key = negInf();
    uint drawn = NONE;
    for (uint i = t; i < p.v; i += LANES) {
        float zi = z(base, i);
        if (!inSupport(i, zi, kthKey, pKey, pId)) continue;
        float e = exp(zi - mx);
        s += e;
        m += e * (mx - zi);
        if (p.greedy == 0u) {
            precise float ki = zi + gumbel(hash32(p.seed, STREAM_GUMBEL, p.step, rkey, i));
            if (better(ki, i, key, drawn)) {
                key = ki;
                drawn = i;
            }
        }
    }
    reduceDraw(s, m, key, drawn);
    // The untempered confidence's normaliser: log Σ exp(x) over every id, MaskID included.
    float confLSE = 0.0;
    if (p.untempered != 0u) {
        float rs = 0.0, rm = 0.0, rmx = negInf();
        uint ri = NONE;
        for (uint i = t; i < p.v; i += LANES) {
            if (better(x[base + i], i, rmx, ri)) {
                rmx = x[base + i];
                ri = i;
            }
        }
        reduceDraw(rs, rm, rmx, ri);
        float e = 0.0;
        for (uint i = t; i < p.v; i += LANES) e += exp(x[base + i] - rmx);
        confLSE = rmx + log(reduceSum(e));
    }
    if (t == 0u) {
        // Finite logits give finite keys, so sampling always has a drawn token.
        uint y = p.greedy != 0u ? best : drawn;
        float ls = log(s);
        float lp = z(base, y) - (mx + ls);
        float h = ls + m / s;
        float score = p.untempered != 0u ? x[base + y] - confLSE : lp;
        if (p.remasking == 1u) score = unitHalf(hash32(p.seed, STREAM_REMASK, p.step, rkey, 0u));
        if (p.remasking == 2u) score = -h;
        rec[item] = Rec(score, int(y), lp, h, kthKey, pKey, pId, 1u);
    }
}

// reveal handles one item of OP 1.
void reveal(uint item) {
    uint t = lane;
    Rec r = rec[item];
    if (r.flag == 0u) return;
    uint row = item / p.blockLen;
    uint jb = item % p.blockLen;
    // Rank: the row's flagged items that come first (better score, or equal and lower position).
    uint n = 0u;
    for (uint k = t; k < p.blockLen; k += LANES) {
        uint o = row * p.blockLen + k;
        if (rec[o].flag != 0u && (rec[o].score > r.score || (rec[o].score == r.score && k < jb))) n++;
    }
    bool shown = reduceCount(n) < p.reveal;
    uint j = p.blockStart + jb;
    uint ci = row * p.c + j;
    if (shown && t == 0u) {
        tokens[row * p.seq + p.promptLen + j] = r.token;
        revealStep[ci] = int(p.step);
        logp[ci] = r.logp;
        entropy[ci] = r.entropy;
    }
    if (p.hasSupport != 0u) {
        // Without a top-k or top-p cut only MaskID is out, and the logits need not be read.
        bool cut = (r.kthKey | r.pKey | r.pId) != 0u;
        uint base = (row * p.seq + p.promptLen + j) * p.v;
        for (uint i = t; i < p.v; i += LANES) {
            bool keep = cut ? inSupport(i, z(base, i), r.kthKey, r.pKey, r.pId) : i != p.maskID;
            support[item * p.v + i] = keep ? 0.0 : negInf(); // [rows, blockLen, v]: item = row·blockLen + jb
        }
    }
}

void main() {
    uint items = p.rows * p.blockLen;
    uint first = gl_WorkGroupID.x, stride = gl_NumWorkGroups.x;
    lane = gl_LocalInvocationIndex;
    if (LANES == 1u) {
        first = first * WG + lane;
        stride *= WG;
        lane = 0u;
    }
    for (uint item = first; item < items; item += stride) {
        if (OP == 0) draw(item);
        else reveal(item);
    }
}
