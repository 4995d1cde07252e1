#version 450
// Embedding rows [N, D] from a table [V, D] by I32 ids.
// OP 0 (specialization constant 0): out[i, j] = table[ids[i], j], grid-stride over N·D.
// OP 1: dTable[ids[i], j] += dOut[i, j]. One invocation per column j walks i in order, so no
//       two invocations touch one element and the sum is deterministic, without atomics.
// B16 (specialization constant 1, OP 0 only): the table holds 16-bit floats two to a word (element
// i in the low half of word i/2 when i is even), 1 bfloat16 or 2 IEEE half, widened exactly.
// Bindings: 0 out or dTable, 1 table or dOut, 2 ids.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const uint B16 = 0;

layout(std430, binding = 0) buffer B0 { float dst[]; };
layout(std430, binding = 1) readonly buffer B1 { float src[]; };
layout(std430, binding = 1) readonly buffer B1h { uint srch[]; };
layout(std430, binding = 2) readonly buffer B2 { int ids[]; };
layout(push_constant) uniform Push { uint n, d; } p;

// f16 widens an IEEE half exactly, subnormals as man·2⁻²⁴ (unpackHalf2x16 may flush them).
float f16(uint h) {
    uint e = (h >> 10) & 31u, s = (h & 0x8000u) << 16, m = h & 0x3ffu;
    if (e == 0u) return uintBitsToFloat(s) + (s != 0u ? -1.0 : 1.0) * float(m) * exp2(-24.0);
    return uintBitsToFloat(s | (e == 31u ? 0x7f800000u : (e + 112u) << 23) | m << 13);
}

void main() {
    uint stride = gl_NumWorkGroups.x * 256;
    if (OP == 0) {
        for (uint e = gl_GlobalInvocationID.x; e < p.n * p.d; e += stride) {
            uint i = e / p.d, j = e % p.d;
            uint at = uint(ids[i]) * p.d + j;
            if (B16 == 0u) {
                dst[e] = src[at];
            } else {
                uint h = (srch[at >> 1] >> ((at & 1u) * 16u)) & 0xffffu;
                dst[e] = B16 == 1u ? uintBitsToFloat(h << 16) : f16(h);
            }
        }
    } else {
        for (uint j = gl_GlobalInvocationID.x; j < p.d; j += stride) {
            for (uint i = 0; i < p.n; i++) {
                dst[uint(ids[i]) * p.d + j] += src[i * p.d + j];
            }
        }
    }
}
