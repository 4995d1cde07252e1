#version 450
#extension GL_GOOGLE_include_directive : require
// The selection factor of a low-confidence unmasking step (core.Backend.SelectionLogProbs, whose
// reference is core/cpu/selection.go), one workgroup per row of logits. With p = softmax(z),
// z = x·invTemp, −Inf outside the row's sampling support (optional, in core.EncodeSupport's
// sparse form), and c(v)
// the confidence (log p(v), or log softmax(x)(v) over the whole row when untempered):
// below = {v : c < κ − tol}, band = {v : |c − κ| ≤ tol}; B = below, plus band when rule = 2 or
// below is empty; F = Σ_{v∈B} p(v). Rows with rule 0 are skipped.
// OP 0 (specialization constant 0): logF[r] = log F (−Inf when B is empty, 0 for rule 0).
// OP 1: dx[r, u] += invTemp·g·p(u)·([u ∈ B]/F − 1), g = dLogF[r], for rows with F > 0.
// Bindings: 0 logF or dLogits, 1 dLogF (OP 1), 2 logits, 3 support (int), 4 kappa, 5 rule (int); absent
// optional tensors are bound to any buffer and flagged off in the push constants.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) readonly buffer B1 { float dF[]; };
layout(std430, binding = 2) readonly buffer B2 { float x[]; };
layout(std430, binding = 3) readonly buffer B3 { int sup[]; };
layout(std430, binding = 4) readonly buffer B4 { float kappa[]; };
layout(std430, binding = 5) readonly buffer B5 { int rule[]; };
layout(push_constant) uniform Push { uint rows, v; float invTemp; uint hasSupport, untempered; float tol; } p;

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

float negInf() { return uintBitsToFloat(0xff800000u); }

#include "support.glsl"

// z is token j's tempered logit in row r; adding −Inf outside the support keeps a NaN logit NaN.
float z(uint r, uint j) {
    float v = x[r * p.v + j] * p.invTemp;
    if (p.hasSupport != 0 && outside(r, j)) v += negInf();
    return v;
}

// lseOf is log Σ exp over the row of z (tempered) or of x (raw).
float lseOf(uint r, bool raw) {
    uint base = r * p.v;
    uint t = gl_LocalInvocationIndex;
    float m = negInf();
    for (uint j = t; j < p.v; j += 256) m = max(m, raw ? x[base + j] : z(r, j));
    m = rowMax(m);
    float s = 0.0;
    for (uint j = t; j < p.v; j += 256) s += exp((raw ? x[base + j] : z(r, j)) - m);
    return m + log(rowSum(s));
}

void main() {
    uint t = gl_LocalInvocationIndex;
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        int rl = rule[r];
        if (rl == 0) {
            if (OP == 0 && t == 0) o[r] = 0.0;
            continue;
        }
        uint base = r * p.v;
        float lse = lseOf(r, false);
        float confLSE = p.untempered != 0 ? lseOf(r, true) : lse;
        float k = kappa[r];
        float below = 0.0, band = 0.0, nBelow = 0.0;
        for (uint j = t; j < p.v; j += 256) {
            float zj = z(r, j);
            if (isinf(zj)) continue; // outside the support: never drawn
            float c = p.untempered != 0 ? x[base + j] - confLSE : zj - lse;
            float pj = exp(zj - lse);
            if (c < k - p.tol) {
                below += pj;
                nBelow += 1.0;
            } else if (c <= k + p.tol) {
                band += pj;
            }
        }
        below = rowSum(below);
        band = rowSum(band);
        bool ties = rl == 2 || rowSum(nBelow) == 0.0;
        float f = ties ? below + band : below;
        if (OP == 0) {
            if (t == 0) o[r] = f > 0.0 ? log(f) : negInf();
        } else if (f > 0.0) {
            float g = dF[r] * p.invTemp;
            for (uint j = t; j < p.v; j += 256) {
                float zj = z(r, j);
                if (isinf(zj)) continue;
                float c = p.untempered != 0 ? x[base + j] - confLSE : zj - lse;
                float pj = exp(zj - lse);
                bool member = c < k - p.tol || (ties && c <= k + p.tol);
                o[base + j] += g * (member ? pj / f - pj : -pj);
            }
        }
    }
}
