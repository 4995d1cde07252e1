#version 450
// RMSNorm over rows of D, by row (OP 0, 1) or one invocation per column (OP 2).
// OP 0 forward:  s = rsqrt(mean(x²) + eps); out = x·s·w; rstd[r] = s.
// OP 1 backward: dx += s·w·g − x·s³·Σ(w·g·x)/D.
// OP 2 backward: the partial dw of row chunk c = gl_WorkGroupID.y, one invocation per column:
//                P[c, j] = Σ_{r in chunk c} g[r, j]·x[r, j]·s[r], rows in order; the host adds
//                the chunks into dw in order (matmul_reduce.comp), so the sum is deterministic
//                and a GPU gets d × chunks invocations rather than d.
// A row is one workgroup (its sums a tree reduction through shared memory), or, with SERIAL,
// one invocation that walks the row alone: on a CPU implementation such as lavapipe, which pays
// dearly for barriers, that beats log₂ 256 of them per sum for the model's short rows (a GPU
// keeps the workgroup: its reads are coalesced that way).
// Bindings: 0 out or dx, 1 rstd, 2 x, 3 w, 4 dOut, 5 P (unused bindings get any buffer).
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const bool SERIAL = false;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) buffer B1 { float rstd[]; };
layout(std430, binding = 2) readonly buffer B2 { float x[]; };
layout(std430, binding = 3) readonly buffer B3 { float w[]; };
layout(std430, binding = 4) readonly buffer B4 { float g[]; };
layout(std430, binding = 5) buffer B5 { float part[]; };
layout(push_constant) uniform Push { uint rows, d; float eps; uint chunk; } p;

shared float red[256];

// rowSum adds v over the workgroup (tree reduction in shared memory).
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

void main() {
    uint t = gl_LocalInvocationIndex;
    if (OP == 2) {
        uint j = gl_GlobalInvocationID.x, c = gl_WorkGroupID.y;
        if (j >= p.d) return;
        float acc = 0.0;
        for (uint r = c * p.chunk; r < min(p.rows, (c + 1) * p.chunk); r++) acc += g[r * p.d + j] * x[r * p.d + j] * rstd[r];
        part[c * p.d + j] = acc;
        return;
    }
    if (SERIAL) {
        for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += gl_NumWorkGroups.x * 256) {
            uint base = r * p.d;
            if (OP == 0) {
                float ss = 0.0;
                for (uint j = 0; j < p.d; j++) ss += x[base + j] * x[base + j];
                float s = inversesqrt(ss / float(p.d) + p.eps);
                rstd[r] = s;
                for (uint j = 0; j < p.d; j++) o[base + j] = x[base + j] * s * w[j];
            } else {
                float dot = 0.0;
                for (uint j = 0; j < p.d; j++) dot += w[j] * g[base + j] * x[base + j];
                float s = rstd[r];
                float c = s * s * s * dot / float(p.d);
                for (uint j = 0; j < p.d; j++) o[base + j] += s * w[j] * g[base + j] - x[base + j] * c;
            }
        }
        return;
    }
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint base = r * p.d;
        if (OP == 0) {
            float ss = 0.0;
            for (uint j = t; j < p.d; j += 256) ss += x[base + j] * x[base + j];
            float s = inversesqrt(rowSum(ss) / float(p.d) + p.eps);
            if (t == 0) rstd[r] = s;
            for (uint j = t; j < p.d; j += 256) o[base + j] = x[base + j] * s * w[j];
        } else {
            float dot = 0.0;
            for (uint j = t; j < p.d; j += 256) dot += w[j] * g[base + j] * x[base + j];
            float s = rstd[r];
            float c = s * s * s * rowSum(dot) / float(p.d);
            for (uint j = t; j < p.d; j += 256) o[base + j] += s * w[j] * g[base + j] - x[base + j] * c;
        }
    }
}
