// mask: the gather and scatter of tokens by an MAE mask's index lists (the masks themselves are
// generated on the host: kernels/src/mask.rs). CPU twins: gather_rows / scatter_rows there.
//
// Batched over clips b: each clip has `count` indices (idx + b·count) into its `tokens` rows of
// `dim` floats.
//   gather:  out[(b·count + j)·dim + k] = src[(b·tokens + idx[b·count + j])·dim + k]
//   scatter: out[(b·tokens + idx[b·count + j])·dim + k] = src[(b·count + j)·dim + k]
// One thread per moved float (k fastest: coalesced rows).

extern "C" __global__ void gather_rows(const float* src, int clips, int tokens, int dim, const unsigned int* idx, int count, float* out) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)clips * count * dim) return;
    int k = (int)(e % dim);
    long long row = e / dim;
    long long b = row / count;
    out[e] = src[(b * tokens + idx[row]) * dim + k];
}

extern "C" __global__ void scatter_rows(const float* src, int clips, int tokens, int dim, const unsigned int* idx, int count, float* out) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)clips * count * dim) return;
    int k = (int)(e % dim);
    long long row = e / dim;
    long long b = row / count;
    out[(b * tokens + idx[row]) * dim + k] = src[e];
}
