#version 450
// RoPE in place on x [rows = B·L, H·Dh], rotate-half layout: pairs (i, i + Dh/2) of every head
// turn by the position's angle, read from a cos/sin table [L, Dh/2, 2] that the host computes in
// float64 (fp32 sin/cos of large angles would miss the tolerance). sign −1 is the backward.
layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer B0 { float x[]; };
layout(std430, binding = 1) readonly buffer B1 { float tab[]; };
layout(push_constant) uniform Push { uint rows, seq, dm, heads, half_; float sign; } p;

void main() {
    uint total = p.rows * p.heads * p.half_;
    uint stride = gl_NumWorkGroups.x * 256;
    uint hd = 2 * p.half_;
    for (uint e = gl_GlobalInvocationID.x; e < total; e += stride) {
        uint i = e % p.half_;
        uint h = (e / p.half_) % p.heads;
        uint r = e / (p.half_ * p.heads);
        uint pos = r % p.seq;
        float c = tab[(pos * p.half_ + i) * 2];
        float s = p.sign * tab[(pos * p.half_ + i) * 2 + 1];
        uint o = r * p.dm + h * hd + i;
        float a = x[o], b = x[o + p.half_];
        x[o] = a * c - b * s;
        x[o + p.half_] = b * c + a * s;
    }
}
