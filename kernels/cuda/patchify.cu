// patchify: clips of (T, side, side, 3) u8 RGB frames → tubelet patch matrices
// (tokens × patch_dim) in f32 or f16, the patch-embedding GEMM's input.
// CPU twin: kernels/src/patchify.rs (TubeletShape::source), same values.
//
// With S = side/p: token n = t·S² + y·S + x, element i = ((c·kt + dt)·p + dy)·p + dx, so
//   c = i / (kt·p²), dt = (i / p²) mod kt, dy = (i / p) mod p, dx = i mod p
// and the value is frame (t·kt + dt), row (y·p + dy), column (x·p + dx), channel c, divided by
// 255 (IEEE division, as the CPU's). Output element e = (clip·tokens + n)·patch_dim + i; one
// thread per output element, consecutive threads along dx read consecutive pixels of a row
// (stride 3 bytes). f16 rounds to nearest even (cvt.rn.f16.f32).

__device__ __forceinline__ float patch_value(const unsigned char* frames, long long e, int T, int side, int p, int kt) {
    int S = side / p;
    int pd = 3 * kt * p * p;
    int tokens = (T / kt) * S * S;
    long long clip = e / ((long long)tokens * pd);
    int r = (int)(e - clip * tokens * pd);
    int n = r / pd, i = r % pd;
    int t = n / (S * S), y = (n / S) % S, x = n % S;
    int c = i / (kt * p * p), dt = (i / (p * p)) % kt, dy = (i / p) % p, dx = i % p;
    int frame = t * kt + dt, row = y * p + dy, col = x * p + dx;
    const unsigned char* f = frames + clip * (long long)T * side * side * 3;
    return (float)f[(((long long)frame * side + row) * side + col) * 3 + c] / 255.0f;
}

extern "C" __global__ void patchify_f32(const unsigned char* frames, int clips, int T, int side, int p, int kt, float* out) {
    long long total = (long long)clips * (T / kt) * (side / p) * (side / p) * 3 * kt * p * p;
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= total) return;
    out[e] = patch_value(frames, e, T, side, p, kt);
}

extern "C" __global__ void patchify_f16(const unsigned char* frames, int clips, int T, int side, int p, int kt, unsigned short* out) {
    long long total = (long long)clips * (T / kt) * (side / p) * (side / p) * 3 * kt * p * p;
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= total) return;
    float v = patch_value(frames, e, T, side, p, kt);
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    out[e] = h;
}
