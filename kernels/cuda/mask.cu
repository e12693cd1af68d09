// mask: the gather and scatter of tokens by an MAE mask's index lists (the masks themselves are
// generated on the host: kernels/src/mask.rs). CPU twins: gather_rows / scatter_rows there.
//
// Batched over clips b: each clip has `count` indices (idx + b·count) into its `tokens` rows of
// `dim` floats.
//   gather:  out[(b·count + j)·dim + k] = src[(b·tokens + idx[b·count + j])·dim + k]
//   scatter: out[(b·tokens + idx[b·count + j])·dim + k] = src[(b·count + j)·dim + k]
// One thread per moved float (k fastest: coalesced rows).

// The full array's offset (b·tokens + idx[b·count + j])·dim + k of the gathered array's element e;
// -1 past the end.
__device__ long long full_offset(long long e, int clips, int tokens, int dim, const unsigned int* idx, int count) {
    if (e >= (long long)clips * count * dim) return -1;
    long long row = e / dim;
    return ((row / count) * tokens + idx[row]) * dim + e % dim;
}

extern "C" __global__ void gather_rows(const float* src, int clips, int tokens, int dim, const unsigned int* idx, int count, float* out) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long f = full_offset(e, clips, tokens, dim, idx, count);
    if (f >= 0) out[e] = src[f];
}

extern "C" __global__ void scatter_rows(const float* src, int clips, int tokens, int dim, const unsigned int* idx, int count, float* out) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long f = full_offset(e, clips, tokens, dim, idx, count);
    if (f >= 0) out[f] = src[e];
}
