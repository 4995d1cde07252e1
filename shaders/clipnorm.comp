#version 450
// Global gradient-norm clipping without a host read (OP, specialization constant 0).
// OP 0, per gradient: each of up to SLOTS workgroups writes its partial Σ g² to
//      partial[p.slot·SLOTS + workgroup] (tree reduction in shared memory).
// OP 1, one workgroup: norm[0] = sqrt(Σ partial), partials added in a fixed order.
// OP 2, per gradient: g ·= min(1, maxNorm/(norm[0] + 1e-6)).
// Bindings: 0 gradient, 1 partials, 2 norm. Deterministic for a given device and shapes.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float g[]; };
layout(std430, binding = 1) buffer B1 { float partial[]; };
layout(std430, binding = 2) buffer B2 { float norm[]; };
layout(push_constant) uniform Push { uint n, slot; float maxNorm; } p;

const uint SLOTS = 64;
shared float red[256];

float groupSum(float v) {
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
    if (OP == 0) {
        float s = 0.0;
        for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256) s += g[i] * g[i];
        s = groupSum(s);
        if (t == 0) partial[p.slot * SLOTS + gl_WorkGroupID.x] = s;
    } else if (OP == 1) {
        float s = 0.0;
        for (uint i = t; i < p.n; i += 256) s += partial[i];
        s = groupSum(s);
        if (t == 0) norm[0] = sqrt(s);
    } else {
        float c = p.maxNorm / (norm[0] + 1e-6);
        if (c >= 1.0) return;
        for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256) g[i] *= c;
    }
}
