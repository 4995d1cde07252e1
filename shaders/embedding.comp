#version 450
// Embedding rows [N, D] from a table [V, D] by I32 ids.
// OP 0 (specialization constant 0): out[i, j] = table[ids[i], j], grid-stride over N·D.
// OP 1: dTable[ids[i], j] += dOut[i, j]. One invocation per column j walks i in order, so no
//       two invocations touch one element and the sum is deterministic, without atomics.
// Bindings: 0 out or dTable, 1 table or dOut, 2 ids.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float dst[]; };
layout(std430, binding = 1) readonly buffer B1 { float src[]; };
layout(std430, binding = 2) readonly buffer B2 { int ids[]; };
layout(push_constant) uniform Push { uint n, d; } p;

void main() {
    uint stride = gl_NumWorkGroups.x * 256;
    if (OP == 0) {
        for (uint e = gl_GlobalInvocationID.x; e < p.n * p.d; e += stride) {
            uint i = e / p.d, j = e % p.d;
            dst[e] = src[uint(ids[i]) * p.d + j];
        }
    } else {
        for (uint j = gl_GlobalInvocationID.x; j < p.d; j += stride) {
            for (uint i = 0; i < p.n; i++) {
                dst[uint(ids[i]) * p.d + j] += src[i * p.d + j];
            }
        }
    }
}
