#version 450
// Cross-entropy, fused with its gradient, in two passes (OP, specialization constant 0).
// OP 0, one workgroup per row: rowLoss[r] = w[r]·(logsumexp(x[r]) − x[r, t[r]]) and, when
//      p.grad ≠ 0, dx[r, j] = w[r]·(softmax(x[r])_j − [j = t[r]]).
// OP 1, one invocation: loss[0] = Σ_r rowLoss[r], rows added in order (deterministic).
// Bindings: 0 dLogits (OP 0; any buffer without gradient) or loss (OP 1), 1 rowLoss, 2 logits,
// 3 targets (int), 4 weights.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) buffer B1 { float rowLoss[]; };
layout(std430, binding = 2) readonly buffer B2 { float x[]; };
layout(std430, binding = 3) readonly buffer B3 { int tg[]; };
layout(std430, binding = 4) readonly buffer B4 { float w[]; };
layout(push_constant) uniform Push { uint rows, v, grad; } p;

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

void main() {
    uint t = gl_LocalInvocationIndex;
    if (OP == 1) {
        if (gl_GlobalInvocationID.x != 0) return;
        float s = 0.0;
        for (uint r = 0; r < p.rows; r++) s += rowLoss[r];
        o[0] = s;
        return;
    }
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint base = r * p.v;
        float m = uintBitsToFloat(0xff800000u); // −Inf
        for (uint j = t; j < p.v; j += 256) m = max(m, x[base + j]);
        m = rowMax(m);
        float s = 0.0;
        for (uint j = t; j < p.v; j += 256) s += exp(x[base + j] - m);
        float lse = m + log(rowSum(s));
        int target = tg[r];
        float wr = w[r];
        if (t == 0) {
            float xt = (target >= 0 && uint(target) < p.v) ? x[base + uint(target)] : 0.0;
            rowLoss[r] = wr * (lse - xt);
        }
        if (p.grad != 0) {
            for (uint j = t; j < p.v; j += 256) {
                float d = wr * exp(x[base + j] - lse);
                if (int(j) == target) d -= wr;
                o[base + j] = d;
            }
        }
    }
}
