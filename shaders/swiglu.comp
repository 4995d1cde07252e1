#version 450
// SwiGLU, elementwise over n: OP 0 (specialization constant 0) writes out = silu(gate)·up;
// OP 1 writes dGate = dOut·up·σ(g)·(1 + g·(1 − σ(g))) and dUp = dOut·silu(g).
// Bindings: 0 out or dGate, 1 dUp (unused forward), 2 gate, 3 up, 4 dOut (unused forward).
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer B0 { float o[]; };
layout(std430, binding = 1) buffer B1 { float du[]; };
layout(std430, binding = 2) readonly buffer B2 { float gate[]; };
layout(std430, binding = 3) readonly buffer B3 { float up[]; };
layout(std430, binding = 4) readonly buffer B4 { float dout[]; };
layout(push_constant) uniform Push { uint n; } p;

void main() {
    uint stride = gl_NumWorkGroups.x * 256;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        float g = gate[i];
        float sg = 1.0 / (1.0 + exp(-g));
        if (OP == 0) {
            o[i] = g * sg * up[i];
        } else {
            float d = dout[i];
            o[i] = d * up[i] * sg * (1.0 + g * (1.0 - sg));
            du[i] = d * g * sg;
        }
    }
}
