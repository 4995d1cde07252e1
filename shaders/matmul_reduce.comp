#version 450
// The second pass of a split-K matmul (see matmul.comp), and of RMSNorm's dw (row chunks,
// rmsnorm.comp): C = alpha·Σ_s P[s] + beta·C, where the partial results P are laid out
// [batch][split][M·N] and C is [batch][M·N]. Splits are summed in order, so the result does not
// depend on scheduling. beta = 0 never reads C.
layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Cbuf { float c[]; };
layout(std430, binding = 1) readonly buffer Pbuf { float part[]; };
layout(push_constant) uniform Push {
    uint n;      // batch·M·N
    uint mn;     // M·N
    uint splits;
    float alpha, beta;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256) {
        uint base = (i / p.mn) * p.splits * p.mn + i % p.mn;
        float acc = 0.0;
        for (uint s = 0; s < p.splits; s++) acc += part[base + s * p.mn];
        float v = p.alpha * acc;
        c[i] = p.beta == 0.0 ? v : v + p.beta * c[i];
    }
}
