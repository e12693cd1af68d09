// crop_resize: face crops from packed RGB frames in device memory to out_side² RGB u8.
// CPU twin: kernels/src/crop.rs (crop_resize_square_at, warp_at), same bytes.
//
// Square crops (the official geometry). A face job is 8 ints:
//   [frame, x0, y0, side, mode, column_taps_offset, row_taps_offset, 0]
// The square [x0, x0+side)² may reach outside the frame; a pixel (X, Y) of the square reads the
// frame at (x0+X, y0+Y), or 0 outside it (the zero padding of the official crop), so the
// padded square is never built. mode 0 (side == out_side) copies, mode 1 (side == 2·out_side)
// is OpenCV's INTER_AREA 2× fast path: (a+b+c+d+2)>>2. mode 2 is cv2.resize's fixed-point
// INTER_LINEAR, with the taps the host computed once per face (resize.rs, ResizePlan):
//   column tap (x, a0, a1): H(Y) = S(x, Y)·a0 + S(min(x+1, side−1), Y)·a1   (weights sum 2048)
//   row tap (y0, y1, b0, b1): the vertical pass over H(y0), H(y1); for the first vector_end
//   bytes of a row (whole 16-byte groups, OpenCV's SIMD loop)
//     ((clamp(H0>>4, i16)·b0 >> 16) + (clamp(H1>>4, i16)·b1 >> 16) + 2) >> 2
//   and for the rest the scalar (H0·b0 + H1·b1 + 2^21) >> 22; both saturated to u8.
// Output byte (face, oy, ox, c) lives at ((face·out_side + oy)·out_side + ox)·3 + c. One thread
// per output pixel: grid (ceil(out_side²/block), faces).
//
// Similarity warps (aligned crops): 6 doubles per face, the inverse map
//   (x, y) = (m0·u + m1·v + m2, m3·u + m4·v + m5)
// from output pixel (u, v) to the frame; bilinear in f64 around (floor(x), floor(y)), zero
// outside the frame, rounded half away from zero. Compiled with --fmad=false so every product
// and sum is rounded as the CPU twin's.

__device__ __forceinline__ int pixel(const unsigned char* f, int width, int height, int x, int y, int c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return 0;
    return f[((long long)y * width + x) * 3 + c];
}

__device__ __forceinline__ int clamp_i16(int v) {
    return v < -32768 ? -32768 : (v > 32767 ? 32767 : v);
}

__device__ __forceinline__ unsigned char saturate_u8(int v) {
    return (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

extern "C" __global__ void crop_resize_square(const unsigned char* frames, int width, int height, const int* jobs, const int* columns,
                                              const int* rows, int out_side, int vector_end, unsigned char* out) {
    int face = blockIdx.y;
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= out_side * out_side) return;
    int ox = p % out_side, oy = p / out_side;
    const int* job = jobs + face * 8;
    const unsigned char* f = frames + (long long)job[0] * width * height * 3;
    int x0 = job[1], y0 = job[2], side = job[3], mode = job[4];
    unsigned char* o = out + ((long long)face * out_side * out_side + p) * 3;
    for (int c = 0; c < 3; ++c) {
        int v;
        if (mode == 0) {
            v = pixel(f, width, height, x0 + ox, y0 + oy, c);
        } else if (mode == 1) {
            int x = x0 + 2 * ox, y = y0 + 2 * oy;
            v = (pixel(f, width, height, x, y, c) + pixel(f, width, height, x + 1, y, c) + pixel(f, width, height, x, y + 1, c) +
                 pixel(f, width, height, x + 1, y + 1, c) + 2) >> 2;
        } else {
            const int* ct = columns + (job[5] + ox) * 3;
            const int* rt = rows + (job[6] + oy) * 4;
            int x = ct[0], a0 = ct[1], a1 = ct[2];
            int next = min(x + 1, side - 1);
            int h0 = pixel(f, width, height, x0 + x, y0 + rt[0], c) * a0 + pixel(f, width, height, x0 + next, y0 + rt[0], c) * a1;
            int h1 = pixel(f, width, height, x0 + x, y0 + rt[1], c) * a0 + pixel(f, width, height, x0 + next, y0 + rt[1], c) * a1;
            int b0 = rt[2], b1 = rt[3];
            if (ox * 3 + c < vector_end) {
                v = (((clamp_i16(h0 >> 4) * b0) >> 16) + ((clamp_i16(h1 >> 4) * b1) >> 16) + 2) >> 2;
            } else {
                v = (h0 * b0 + h1 * b1 + (1 << 21)) >> 22;
            }
        }
        o[c] = saturate_u8(v);
    }
}

extern "C" __global__ void warp_similarity(const unsigned char* frames, int width, int height, const int* frame_of_face,
                                           const double* inverse, int out_side, unsigned char* out) {
    int face = blockIdx.y;
    int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= out_side * out_side) return;
    const double* m = inverse + face * 6;
    const unsigned char* f = frames + (long long)frame_of_face[face] * width * height * 3;
    double u = (double)(p % out_side), v = (double)(p / out_side);
    double x = m[0] * u + m[1] * v + m[2];
    double y = m[3] * u + m[4] * v + m[5];
    double fx0 = floor(x), fy0 = floor(y);
    double fx = x - fx0, fy = y - fy0;
    // frames are far smaller than 2^31 pixels: out-of-range points read as 0 either way
    long long xl = (long long)fx0, yl = (long long)fy0;
    int x0 = (int)max(min(xl, (long long)width), -2LL), y0 = (int)max(min(yl, (long long)height), -2LL);
    unsigned char* o = out + ((long long)face * out_side * out_side + p) * 3;
    for (int c = 0; c < 3; ++c) {
        double top = (double)pixel(f, width, height, x0, y0, c) * (1.0 - fx) + (double)pixel(f, width, height, x0 + 1, y0, c) * fx;
        double bottom = (double)pixel(f, width, height, x0, y0 + 1, c) * (1.0 - fx) + (double)pixel(f, width, height, x0 + 1, y0 + 1, c) * fx;
        double r = round(top * (1.0 - fy) + bottom * fy);
        o[c] = (unsigned char)(r < 0.0 ? 0.0 : (r > 255.0 ? 255.0 : r));
    }
}
