#version 450
#extension GL_GOOGLE_include_directive : require
// Log-probability and entropy of sampled tokens under p = softmax(z), z = x·invTemp, −Inf outside
// the row's sampling support (optional, in core.EncodeSupport's sparse form), one workgroup per row.
// OP 0 (specialization constant 0): logp[r] = z[t] − lse; entropy[r] = −Σ p log p (if wanted).
// OP 1: dx[r, j] = invTemp·(g·([j = t] − p_j) − gh·p_j·(log p_j + H)), g = dLogp[r],
//       gh = dEntropy[r] (0 without it); masked entries (p = 0) get only the first term.
// Bindings: 0 logp or dLogits, 1 entropy or dLogp, 2 dEntropy (OP 1), 3 logits, 4 tokens (int),
// 5 support (int); absent optional tensors are bound to any buffer and flagged off in the push constants.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) buffer B1 { float o1[]; };
layout(std430, binding = 2) readonly buffer B2 { float dEnt[]; };
layout(std430, binding = 3) readonly buffer B3 { float x[]; };
layout(std430, binding = 4) readonly buffer B4 { int tk[]; };
layout(std430, binding = 5) readonly buffer B5 { int sup[]; };
layout(push_constant) uniform Push { uint rows, v; float invTemp; uint hasSupport, hasEnt; } p;

shared float red[256];

float rowSum(float v) {
    uint t = gl_LocalInvocationIndex;
    red[t] = v;
    barrier();
    for (uint s = 128; s > 0; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

float rowMax(float v) {
    uint t = gl_LocalInvocationIndex;
    red[t] = v;
    barrier();
    for (uint s = 128; s > 0; s >>= 1) {
        if (t < s) red[t] = max(red[t], red[t + s]);
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

#include "support.glsl"

// z is token j's tempered logit in row r; adding −Inf outside the support keeps a NaN logit NaN.
float z(uint r, uint j) {
    float v = x[r * p.v + j] * p.invTemp;
    if (p.hasSupport != 0 && outside(r, j)) v += uintBitsToFloat(0xff800000u);
    return v;
}

void main() {
    uint t = gl_LocalInvocationIndex;
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint base = r * p.v;
        float m = uintBitsToFloat(0xff800000u); // −Inf
        for (uint j = t; j < p.v; j += 256) m = max(m, z(r, j));
        m = rowMax(m);
        float s = 0.0;
        for (uint j = t; j < p.v; j += 256) s += exp(z(r, j) - m);
        float lse = m + log(rowSum(s));
        // Entropy: −Σ p·log p over the entries with p > 0.
        float h = 0.0;
        if (p.hasEnt != 0) {
            float e = 0.0;
            for (uint j = t; j < p.v; j += 256) {
                float lp = z(r, j) - lse;
                float pj = exp(lp);
                if (pj > 0.0) e -= pj * lp;
            }
            h = rowSum(e);
        }
        int target = tk[r];
        if (OP == 0) {
            if (t == 0) {
                o[r] = (target >= 0 && uint(target) < p.v) ? z(r, uint(target)) - lse : 0.0;
                if (p.hasEnt != 0) o1[r] = h;
            }
        } else {
            float g = o1[r];
            float gh = p.hasEnt != 0 ? dEnt[r] : 0.0;
            for (uint j = t; j < p.v; j += 256) {
                float lp = z(r, j) - lse;
                float pj = exp(lp);
                float d = -g * pj;
                if (pj > 0.0) d -= gh * pj * (lp + h);
                d *= p.invTemp;
                if (int(j) == target) d += g * p.invTemp;
                o[base + j] = d;
            }
        }
    }
}
