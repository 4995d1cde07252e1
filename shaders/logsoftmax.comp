#version 450
// Log-softmax over rows of V, one workgroup per row.
// OP 0 (specialization constant 0): out = x − max − log Σ exp(x − max).
// OP 1: dx = dOut − exp(out)·Σ dOut.
// Bindings: 0 out or dx, 1 x or dOut, 2 out (backward; any buffer forward).
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) readonly buffer B1 { float x[]; };
layout(std430, binding = 2) readonly buffer B2 { float y[]; };
layout(push_constant) uniform Push { uint rows, v; } p;

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
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint base = r * p.v;
        if (OP == 0) {
            float m = -3.402823466e38;
            for (uint j = t; j < p.v; j += 256) m = max(m, x[base + j]);
            m = rowMax(m);
            float s = 0.0;
            for (uint j = t; j < p.v; j += 256) s += exp(x[base + j] - m);
            float lse = m + log(rowSum(s));
            for (uint j = t; j < p.v; j += 256) o[base + j] = x[base + j] - lse;
        } else {
            float s = 0.0;
            for (uint j = t; j < p.v; j += 256) s += x[base + j];
            s = rowSum(s);
            for (uint j = t; j < p.v; j += 256) o[base + j] = x[base + j] - exp(y[base + j]) * s;
        }
    }
}
