#version 450
// Elementwise ops over n floats, one pipeline per OP (specialization constant 0):
//   0 add:    out = a + b
//   1 scale:  out = a * s (in place: the backend binds the same buffer as out and a)
// A grid-stride loop covers any n with at most maxComputeWorkGroupCount groups.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer InA { float a[]; };
layout(std430, binding = 2) readonly buffer InB { float b[]; };
layout(push_constant) uniform Push { uint n; float s; } p;

void main() {
    uint stride = gl_NumWorkGroups.x * 256;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        if (OP == 0) {
            o[i] = a[i] + b[i];
        } else {
            o[i] = a[i] * p.s;
        }
    }
}
