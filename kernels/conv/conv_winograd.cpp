// The CPU forward of 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// Each 2x2 block of outputs (a tile) is computed from the 4x4 input patch under it:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.) = elementwise product of 4x4 matrices
// with g a 3x3 filter, d the patch, and
//   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// Summed over the input channels, the 16 elementwise products become 16 independent GEMMs:
//   M[xi] [K, P] = U[xi] [K, C] * V[xi] [C, P]     xi = 0..15, P = tiles of a chunk of images
// with U = the transformed filters and V = the transformed patches. That is 16 multiply-adds per
// 4 outputs and input channel instead of 36: 2.25x fewer GEMM flops than im2col + SGEMM, and V
// (4 floats per input element) is smaller than im2col's columns (9 per output element).
// Rounding: the transforms add and subtract at most 4 terms and halve; the result differs from
// the direct sum by a few ulp of the largest partial sums (the tests bound it against the
// plain-loop reference).
//
// Layouts: U [16][K][C]; V [16][C][P]; M [16][K][P]; tile p = j*tiles + ty*tiles_w + tx for image
// j of the chunk. Input planes are first copied into a zero-bordered buffer so that every tile
// reads a full 4x4 patch without bounds checks, its columns split into even and odd ones so that
// each transform is a few unit-stride loops over a row of tiles.
// Threads: the transforms split over image planes on OpenMP's threads; the GEMMs run on
// OpenBLAS's (see conv_cpu.cpp: both share one libgomp pool).
#include "kernels/conv/conv_winograd.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/elementwise/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fer {

namespace {

constexpr int64_t kTaps = 16;  // 4x4 transformed values per tile
// The chunk's V and M together stay under this many floats (16 MiB) unless one image needs more.
constexpr int64_t kMaxChunkFloats = int64_t(1) << 22;

struct Tiling {
  int64_t rows, cols, per_image;  // tiles per image: rows x cols of 2x2 output blocks
  int64_t padded_h, padded_w;     // the zero-bordered input plane that covers every tile's patch
};

Tiling tiling_of(const ConvShape& s) {
  Tiling t;
  t.rows = (s.OH + 1) / 2;
  t.cols = (s.OW + 1) / 2;
  t.per_image = t.rows * t.cols;
  t.padded_h = 2 * t.rows + 2;
  t.padded_w = 2 * t.cols + 2;
  return t;
}

// U[xi][k][c] = (G g G^T)[xi] for filter g = weight[k][c].
void transform_filters(const ConvShape& s, const float* weight, float* u) {
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c) {
      const float* g = weight + (k * s.C + c) * 9;
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        const float v[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                            t[i][2]};
        for (int j = 0; j < 4; ++j) u[((i * 4 + j) * s.K + k) * s.C + c] = v[j];
      }
    }
}

// The zero-bordered copy of one input plane, its columns split by parity: tile tx's patch row
// holds columns 2tx..2tx+3 = even[tx], odd[tx], even[tx+1], odd[tx+1], so that the transforms
// below read every operand with unit stride (and vectorize).
void split_padded_plane(const ConvShape& s, const Tiling& t, const float* plane, float* even, float* odd) {
  const int64_t half = t.padded_w / 2;
  std::fill(even, even + t.padded_h * half, 0.0f);
  std::fill(odd, odd + t.padded_h * half, 0.0f);
  const int64_t rows = std::min(s.H, t.padded_h - s.pad), cols = std::min(s.W, t.padded_w - s.pad);
  // Padded column 2t (even[t]) holds input column 2t - pad, 2t + 1 (odd[t]) holds 2t + 1 - pad.
  const int64_t even_lo = (s.pad + 1) / 2, even_hi = (cols + s.pad - 1) / 2 + 1;
  const int64_t odd_lo = s.pad / 2, odd_hi = (cols + s.pad - 2) / 2 + 1;
  for (int64_t ih = 0; ih < rows; ++ih) {
    const float* in = plane + ih * s.W;
    float* e = even + (ih + s.pad) * half;
    float* o = odd + (ih + s.pad) * half;
    for (int64_t k = even_lo; k < even_hi; ++k) e[k] = in[2 * k - s.pad];
    for (int64_t k = odd_lo; k < odd_hi; ++k) o[k] = in[2 * k + 1 - s.pad];
  }
}

// V[xi][c][p0 + tile] = (B^T d B)[xi] for every tile of one input plane (channel c of an image).
// scratch: 2 * padded_h * padded_w / 2 + 16 * cols floats.
void transform_plane(const ConvShape& s, const Tiling& t, const float* plane, float* scratch, float* v,
                     int64_t stride_xi, int64_t p0) {
  const int64_t half = t.padded_w / 2, n = t.cols;
  float* even = scratch;
  float* odd = even + t.padded_h * half;
  float* h = odd + t.padded_h * half;  // h[i*4 + j][tx]: (d B)[i][j] of tile tx's patch
  split_padded_plane(s, t, plane, even, odd);
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    for (int i = 0; i < 4; ++i) {  // d B, row i of every patch in the tile row
      const float* e = even + (2 * ty + i) * half;
      const float* o = odd + (2 * ty + i) * half;
      float* hi = h + i * 4 * n;
#pragma omp simd
      for (int64_t tx = 0; tx < n; ++tx) {
        hi[tx] = e[tx] - e[tx + 1];
        hi[n + tx] = o[tx] + e[tx + 1];
        hi[2 * n + tx] = e[tx + 1] - o[tx];
        hi[3 * n + tx] = o[tx] - o[tx + 1];
      }
    }
    float* out = v + p0 + ty * n;
    for (int j = 0; j < 4; ++j) {  // B^T (d B)
      const float* h0 = h + j * n;
      const float* h1 = h + (4 + j) * n;
      const float* h2 = h + (8 + j) * n;
      const float* h3 = h + (12 + j) * n;
      float* v0 = out + j * stride_xi;
      float* v1 = out + (4 + j) * stride_xi;
      float* v2 = out + (8 + j) * stride_xi;
      float* v3 = out + (12 + j) * stride_xi;
#pragma omp simd
      for (int64_t tx = 0; tx < n; ++tx) {
        v0[tx] = h0[tx] - h2[tx];
        v1[tx] = h1[tx] + h2[tx];
        v2[tx] = h2[tx] - h1[tx];
        v3[tx] = h1[tx] - h3[tx];
      }
    }
  }
}

// One output plane (filter k of an image) from its tiles' M values: Y = A^T m A, clipped to
// OH x OW. scratch: 12 * cols floats.
void inverse_transform_plane(const ConvShape& s, const Tiling& t, const float* m, int64_t stride_xi, float* scratch,
                             float* plane) {
  const int64_t n = t.cols;
  float* r = scratch;           // r[i*4 + j][tx] = (A^T m)[i][j], i < 2
  float* y = scratch + 8 * n;   // y[i*2 + j][tx] = (A^T m A)[i][j]
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    const float* in = m + ty * n;
    for (int j = 0; j < 4; ++j) {
      const float* a0 = in + j * stride_xi;
      const float* a1 = in + (4 + j) * stride_xi;
      const float* a2 = in + (8 + j) * stride_xi;
      const float* a3 = in + (12 + j) * stride_xi;
#pragma omp simd
      for (int64_t tx = 0; tx < n; ++tx) {
        r[j * n + tx] = a0[tx] + a1[tx] + a2[tx];
        r[(4 + j) * n + tx] = a1[tx] - a2[tx] - a3[tx];
      }
    }
    for (int i = 0; i < 2; ++i) {
      const float* r0 = r + i * 4 * n;
#pragma omp simd
      for (int64_t tx = 0; tx < n; ++tx) {
        y[i * 2 * n + tx] = r0[tx] + r0[n + tx] + r0[2 * n + tx];
        y[(i * 2 + 1) * n + tx] = r0[n + tx] - r0[2 * n + tx] - r0[3 * n + tx];
      }
    }
    for (int i = 0; i < 2 && 2 * ty + i < s.OH; ++i) {  // interleave the tiles' two columns
      float* out = plane + (2 * ty + i) * s.OW;
      const float* left = y + i * 2 * n;
      const float* right = left + n;
      const int64_t pairs = s.OW / 2;
#pragma omp simd
      for (int64_t tx = 0; tx < pairs; ++tx) {
        out[2 * tx] = left[tx];
        out[2 * tx + 1] = right[tx];
      }
      if (s.OW % 2 == 1) out[s.OW - 1] = left[pairs];
    }
  }
}

}  // namespace

bool winograd_applies(const ConvShape& s) {
  // The 16 GEMMs reduce over C and write K rows; below C * K = 2048 the transforms cost more than
  // the flops they save (measured, 1 thread: C = K = 32 at 64x64 1.1x slower than im2col + SGEMM,
  // C = 32, K = 64 1.2x faster).
  return s.stride == 1 && s.R == 3 && s.S == 3 && s.pad <= 2 && s.C >= 8 && s.K >= 8 && s.C * s.K >= 2048 &&
         s.OH >= 1 && s.OW >= 1;
}

void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* weight, float* y) {
  const Tiling t = tiling_of(s);
  const int64_t per_image_floats = kTaps * (s.C + s.K) * t.per_image;
  const int64_t images = std::clamp<int64_t>(kMaxChunkFloats / per_image_floats, 1, s.N);
  const auto u = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kTaps * s.K * s.C));
  const auto v = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kTaps * s.C * images * t.per_image));
  const auto m = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kTaps * s.K * images * t.per_image));
  transform_filters(s, weight, u.get());
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0), tiles = nb * t.per_image;
#pragma omp parallel if (worth_threads(nb * s.C * s.H * s.W))
    {
      std::vector<float> scratch(static_cast<size_t>(t.padded_h * t.padded_w + kTaps * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.C; ++plane) {
        const int64_t j = plane / s.C, c = plane % s.C;
        transform_plane(s, t, x + (n0 * s.C + plane) * s.H * s.W, scratch.data(), v.get() + c * tiles, s.C * tiles,
                        j * t.per_image);
      }
    }
    for (int64_t xi = 0; xi < kTaps; ++xi)
      gemm_cpu(false, false, s.K, tiles, s.C, 1.0f, u.get() + xi * s.K * s.C, s.C, v.get() + xi * s.C * tiles, tiles,
               0.0f, m.get() + xi * s.K * tiles, tiles);
#pragma omp parallel if (worth_threads(nb * s.K * s.OH * s.OW))
    {
      std::vector<float> scratch(static_cast<size_t>(12 * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.K; ++plane) {
        const int64_t j = plane / s.K, k = plane % s.K;
        inverse_transform_plane(s, t, m.get() + k * tiles + j * t.per_image, s.K * tiles, scratch.data(),
                                y + (n0 * s.K + plane) * s.OH * s.OW);
      }
    }
  }
}

}  // namespace fer
