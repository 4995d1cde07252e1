#version 450
// AdamW (PyTorch semantics), elementwise: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p = p·(1 − lr·wd) − stepSize·m / (√v/√bc2 + eps), with stepSize = lr/bc1 and the bias
// corrections bc1, bc2 computed on the host in float64.
layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer B0 { float param[]; };
layout(std430, binding = 1) readonly buffer B1 { float grad[]; };
layout(std430, binding = 2) buffer B2 { float m[]; };
layout(std430, binding = 3) buffer B3 { float v[]; };
layout(push_constant) uniform Push { uint n; float beta1, beta2, eps, stepSize, sqrtBC2, decay; } p;

void main() {
    uint stride = gl_NumWorkGroups.x * 256;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        float g = grad[i];
        float mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
        float vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * p.decay - p.stepSize * mi / (sqrt(vi) / p.sqrtBC2 + p.eps);
    }
}
