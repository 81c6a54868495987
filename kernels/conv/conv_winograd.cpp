// CPU convolutions by Winograd's minimal filtering F(MxM, RxR) (Lavin and Gray, "Fast Algorithms
// for Convolutional Neural Networks", 2016): F(4x4, 3x3) for the 3x3 stride-1 convolutions, and
// F(2x2, 2x2) for the 4x4 stride-2 convolutions of the encoder, D_img and the decoder rewritten as
// 2x2 stride-1 ones over phase planes.
//
// Each MxM block of outputs (a tile) is computed from the (M+R-1)x(M+R-1) input patch under it:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.) = elementwise product
// with g an RxR filter, d the patch, and (interpolation points 0, +-1, +-2, infinity for F(4, 3))
//   F(4x4, 3x3): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
//                       0 4 0 -5 0 1],
//                G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//                A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
//   F(2x2, 2x2): B^T = [1 -1 0; 0 1 0; 0 -1 1],  G = [1 0; 1 1; 0 1],  A^T = [1 1 0; 0 1 1].
// Summed over the input channels, the (M+R-1)^2 elementwise products become independent GEMMs
// (the products M[xi], named as in the paper, one per tap xi of the patch):
//   M[xi] [K, T] = U[xi] [K, C] * V[xi] [C, T]     T = tiles of a chunk of images
// with U = the transformed filters and V = the transformed patches: 36 multiply-adds per 16
// outputs and input channel instead of 144 for 3x3 (4x fewer GEMM flops than im2col + SGEMM,
// 1.78x fewer than F(2x2, 3x3), whose V and M were also 1.78x larger per output), 9 instead of
// 16 per 4 outputs for 2x2.
// Rounding: F(4x4, 3x3)'s transforms scale by up to 8 (A), 5 (B) and 1/24 (G); its results
// differ from the direct sum by about 1e-6 of the sum of the terms' magnitudes (the tests bound
// it against the float64 loops: on a 64-channel layer up to 2e-4 in the outputs and 8e-4 in the
// filter gradients, where F(2x2, 3x3)'s stayed under 1e-4).
//
// Layouts: U [xi][K][C]; V [xi][C][T]; M [xi][K][T]; tile p = j*tiles + ty*tiles_w + tx for image
// j of the chunk. Input planes are first copied into a zero-bordered buffer so that every tile
// reads a full patch without bounds checks, its columns split into M phases (column M*m + r in
// phase r at m) so that each transform is a few unit-stride loops over a row of tiles.
// The transforms visit the planes channel by channel, image by image within a channel, so that
// they write (and the inverse reads) each tap's row of V (M, dM) front to back, as col2im does.
// Threads: the transforms split over image planes on OpenMP's threads, the taps' GEMMs over
// OpenMP's threads too, one whole GEMM per thread (OpenBLAS, called inside a parallel region, runs
// on the calling thread; see conv_cpu.cpp: both share one libgomp pool).
#include "kernels/conv/conv_winograd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/elementwise/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fer {

namespace {

// A chunk's V and M together, and a chunk of phase planes, stay under this many floats (16 MiB)
// unless one image needs more.
constexpr int64_t kMaxChunkFloats = int64_t(1) << 22;

// F(MxM, RxR): MxM output tiles from PxP patches, P = M + R - 1; (M, R) = (4, 3) or (2, 2).
template <int M, int R>
struct Winograd {
  static_assert((M == 4 && R == 3) || (M == 2 && R == 2), "F(4x4, 3x3) and F(2x2, 2x2) only");
  static constexpr int kPatch = M + R - 1;
  static constexpr int64_t kTaps = kPatch * kPatch;
};

struct Tiling {
  int64_t rows, cols, per_image;  // tiles per image: rows x cols of MxM output blocks
  int64_t padded_h, padded_w;     // the zero-bordered input plane that covers every tile's patch
  int64_t phase_w;                // entries per row of each of that plane's M column phases
};

template <int M, int R>
Tiling tiling_of(const ConvShape& s) {
  Tiling t;
  t.rows = (s.OH + M - 1) / M;
  t.cols = (s.OW + M - 1) / M;
  t.per_image = t.rows * t.cols;
  t.padded_h = M * t.rows + R - 1;
  t.padded_w = M * t.cols + R - 1;
  t.phase_w = (t.padded_w + M - 1) / M;
  return t;
}

// G applied to R vectors g[0..R) of n entries each (filter rows or columns of n filters): the P
// vectors out[0..P).
template <int M, int R>
void filter_transform(const float* const* g, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    if constexpr (M == 4) {
      const float g0 = g[0][c], g1 = g[1][c], g2 = g[2][c];
      const float outer = g0 + g2, outer4 = g0 + 4.0f * g2;  // rows 1, 2 and 3, 4
      out[0][c] = 0.25f * g0;
      out[1][c] = -(outer + g1) / 6.0f;
      out[2][c] = -(outer - g1) / 6.0f;
      out[3][c] = (outer4 + 2.0f * g1) / 24.0f;
      out[4][c] = (outer4 - 2.0f * g1) / 24.0f;
      out[5][c] = g2;
    } else {
      out[0][c] = g[0][c];
      out[1][c] = g[0][c] + g[1][c];
      out[2][c] = g[1][c];
    }
  }
}

// U[xi][k][c] = (G g G^T)[xi] for filter g = weight[k][c]: for each k, the C filters' taps are
// gathered into [R*R][C] so that both 1-D transforms run over C-long vectors and write U's rows
// whole (filter by filter, the taps of one filter lie K*C floats apart in U, and the F(4x4, 3x3)
// transform of a 256 x 256 layer took longer than its GEMMs).
template <int M, int R>
void transform_filters(const ConvShape& s, const float* weight, float* u) {
  constexpr int P = Winograd<M, R>::kPatch;
  std::vector<float> taps(static_cast<size_t>(R * R * s.C)), rows(static_cast<size_t>(R * P * s.C));
  for (int64_t k = 0; k < s.K; ++k) {
    for (int64_t c = 0; c < s.C; ++c)
      for (int e = 0; e < R * R; ++e) taps[e * s.C + c] = weight[(k * s.C + c) * R * R + e];
    for (int i = 0; i < R; ++i) {  // g G^T, filter row i: rows[i*P + j]
      const float* in[R];
      float* out[P];
      for (int q = 0; q < R; ++q) in[q] = taps.data() + (i * R + q) * s.C;
      for (int j = 0; j < P; ++j) out[j] = rows.data() + (i * P + j) * s.C;
      filter_transform<M, R>(in, s.C, out);
    }
    for (int j = 0; j < P; ++j) {  // G (g G^T), column j
      const float* in[R];
      float* out[P];
      for (int i = 0; i < R; ++i) in[i] = rows.data() + (i * P + j) * s.C;
      for (int i = 0; i < P; ++i) out[i] = u + ((i * P + j) * s.K + k) * s.C;
      filter_transform<M, R>(in, s.C, out);
    }
  }
}

// out[r][m] = in[M*m + r] for r < M, m < groups: one pass over the interleaved groups (which GCC
// vectorizes with shuffles; M loops of stride M did not vectorize).
template <int M>
void deinterleave(const float* __restrict in, int64_t groups, float* const* out) {
  float* __restrict o0 = out[0];
  float* __restrict o1 = out[1];
  if constexpr (M == 2) {
    for (int64_t m = 0; m < groups; ++m) {
      o0[m] = in[2 * m];
      o1[m] = in[2 * m + 1];
    }
  } else {
    float* __restrict o2 = out[2];
    float* __restrict o3 = out[3];
    for (int64_t m = 0; m < groups; ++m) {
      o0[m] = in[4 * m];
      o1[m] = in[4 * m + 1];
      o2[m] = in[4 * m + 2];
      o3[m] = in[4 * m + 3];
    }
  }
}

// out[M*m + r] = in[r][m] for out[0, width): the inverse of deinterleave, with a partial last group.
template <int M>
void interleave(const float* const* in, int64_t width, float* out) {
  const int64_t groups = width / M;
#pragma omp simd
  for (int64_t m = 0; m < groups; ++m)
    for (int r = 0; r < M; ++r) out[M * m + r] = in[r][m];
  for (int64_t r = 0; r < width % M; ++r) out[M * groups + r] = in[r][groups];
}

// The zero-bordered copy of one input plane, its columns split into M phases: padded column
// M*m + r goes to phases[r][m] (phase r starts at phases + r * padded_h * phase_w), so that tile
// tx's patch row holds columns M*tx + j = phase j % M at tx + j / M, read with unit stride.
template <int M>
void split_padded_plane(const ConvShape& s, const Tiling& t, const float* plane, float* phases) {
  const int64_t phase_floats = t.padded_h * t.phase_w;
  std::fill(phases, phases + M * phase_floats, 0.0f);
  const int64_t rows = std::min(s.H, t.padded_h - s.pad), cols = std::min(s.W, t.padded_w - s.pad);
  // Input column iw is padded column iw + pad. From input column `head` on (the first with
  // (head + pad) % M == 0) whole groups of M columns deinterleave in one pass.
  const int64_t head = std::min(cols, (M - s.pad % M) % M);
  const int64_t groups = (cols - head) / M, tail = head + groups * M;
  for (int64_t ih = 0; ih < rows; ++ih) {
    const float* in = plane + ih * s.W;
    float* row = phases + (ih + s.pad) * t.phase_w;  // the row in phase 0
    const auto put = [&](int64_t iw) {
      const int64_t column = iw + s.pad;
      row[column % M * phase_floats + column / M] = in[iw];
    };
    for (int64_t iw = 0; iw < head; ++iw) put(iw);
    float* group_start[M];
    for (int r = 0; r < M; ++r) group_start[r] = row + r * phase_floats + (head + s.pad) / M;
    deinterleave<M>(in + head, groups, group_start);
    for (int64_t iw = tail; iw < cols; ++iw) put(iw);
  }
}

// B^T applied to P vectors d[0..P) of n entries each (one entry per tile of a tile row): out[0..P).
// Along a patch row (d B, B^T's rows applied to the row's P columns) and down the patch columns
// (B^T (d B)) alike.
template <int M, int R>
void input_transform(const float* const* d, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (M == 4) {
      const float d0 = d[0][tx], d1 = d[1][tx], d2 = d[2][tx], d3 = d[3][tx], d4 = d[4][tx], d5 = d[5][tx];
      const float a = d4 - 4.0f * d2, b = d3 - 4.0f * d1;  // rows 1, 2: a +- b
      const float c = d4 - d2, e = 2.0f * (d3 - d1);       // rows 3, 4: c +- e
      out[0][tx] = 4.0f * d0 - 5.0f * d2 + d4;
      out[1][tx] = a + b;
      out[2][tx] = a - b;
      out[3][tx] = c + e;
      out[4][tx] = c - e;
      out[5][tx] = 4.0f * d1 - 5.0f * d3 + d5;
    } else {
      const float d0 = d[0][tx], d1 = d[1][tx], d2 = d[2][tx];
      out[0][tx] = d0 - d1;
      out[1][tx] = d1;
      out[2][tx] = d2 - d1;
    }
  }
}

// A^T applied to P vectors a[0..P): the M outputs out[0..M).
template <int M, int R>
void output_transform(const float* const* a, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (M == 4) {
      const float s1 = a[1][tx] + a[2][tx], t1 = a[1][tx] - a[2][tx];
      const float s2 = a[3][tx] + a[4][tx], t2 = a[3][tx] - a[4][tx];
      out[0][tx] = a[0][tx] + s1 + s2;
      out[1][tx] = t1 + 2.0f * t2;
      out[2][tx] = s1 + 4.0f * s2;
      out[3][tx] = t1 + 8.0f * t2 + a[5][tx];
    } else {
      out[0][tx] = a[0][tx] + a[1][tx];
      out[1][tx] = a[1][tx] + a[2][tx];
    }
  }
}

// V[xi][c][p0 + tile] = (B^T d B)[xi] for every tile of one input plane (channel c of an image).
// scratch: M * padded_h * phase_w + P * P * cols floats.
template <int M, int R>
void transform_plane(const ConvShape& s, const Tiling& t, const float* plane, float* scratch, float* v,
                     int64_t stride_xi, int64_t p0) {
  constexpr int P = Winograd<M, R>::kPatch;
  const int64_t n = t.cols, phase_floats = t.padded_h * t.phase_w;
  float* phases = scratch;
  float* h = phases + M * phase_floats;  // h[i*P + j][tx]: (d B)[i][j] of tile tx's patch
  split_padded_plane<M>(s, t, plane, phases);
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    for (int i = 0; i < P; ++i) {  // d B, patch row i of every tile
      const float* d[P];
      float* out[P];
      for (int j = 0; j < P; ++j) {
        d[j] = phases + j % M * phase_floats + (M * ty + i) * t.phase_w + j / M;
        out[j] = h + (i * P + j) * n;
      }
      input_transform<M, R>(d, n, out);
    }
    for (int j = 0; j < P; ++j) {  // B^T (d B), column j of every patch
      const float* rows[P];
      float* out[P];
      for (int i = 0; i < P; ++i) {
        rows[i] = h + (i * P + j) * n;
        out[i] = v + (i * P + j) * stride_xi + p0 + ty * n;
      }
      input_transform<M, R>(rows, n, out);
    }
  }
}

// One output plane (filter k of an image) from its tiles' M values: Y = A^T m A, clipped to
// OH x OW. scratch: (M * P + M * M) * cols floats.
template <int M, int R>
void inverse_transform_plane(const ConvShape& s, const Tiling& t, const float* m, int64_t stride_xi, float* scratch,
                             float* plane) {
  constexpr int P = Winograd<M, R>::kPatch;
  const int64_t n = t.cols;
  float* r = scratch;          // r[i*P + j][tx] = (A^T m)[i][j], i < M
  float* y = r + M * P * n;    // y[i*M + j][tx] = (A^T m A)[i][j]
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    for (int j = 0; j < P; ++j) {
      const float* a[P];
      float* out[M];
      for (int i = 0; i < P; ++i) a[i] = m + (i * P + j) * stride_xi + ty * n;
      for (int i = 0; i < M; ++i) out[i] = r + (i * P + j) * n;
      output_transform<M, R>(a, n, out);
    }
    for (int i = 0; i < M; ++i) {
      const float* a[P];
      float* out[M];
      for (int j = 0; j < P; ++j) a[j] = r + (i * P + j) * n;
      for (int j = 0; j < M; ++j) out[j] = y + (i * M + j) * n;
      output_transform<M, R>(a, n, out);
    }
    for (int i = 0; i < M && M * ty + i < s.OH; ++i) {  // row i of the tiles: their M columns
      const float* columns[M];
      for (int j = 0; j < M; ++j) columns[j] = y + (i * M + j) * n;
      interleave<M>(columns, s.OW, plane + (M * ty + i) * s.OW);
    }
  }
}

// V [taps][C][nb * tiles per image] of the nb images at x.
template <int M, int R>
void transform_inputs(const ConvShape& s, const Tiling& t, const float* x, int64_t nb, float* v) {
  constexpr int P = Winograd<M, R>::kPatch;
  const int64_t tiles = nb * t.per_image;
#pragma omp parallel if (worth_threads(nb * s.C * s.H * s.W))
  {
    std::vector<float> scratch(static_cast<size_t>(M * t.padded_h * t.phase_w + P * P * t.cols));
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < nb * s.C; ++plane) {
      const int64_t c = plane / nb, j = plane % nb;
      transform_plane<M, R>(s, t, x + (j * s.C + c) * s.H * s.W, scratch.data(), v + c * tiles, s.C * tiles,
                            j * t.per_image);
    }
  }
}

// The number of images a chunk takes: its V and M (or dM) stay under kMaxChunkFloats.
int64_t images_per_chunk(const ConvShape& s, const Tiling& t, int64_t taps) {
  return std::clamp<int64_t>(kMaxChunkFloats / (taps * (s.C + s.K) * t.per_image), 1, s.N);
}

template <int M, int R>
void winograd_forward(const ConvShape& s, const float* x, const float* weight, float* y) {
  constexpr int64_t taps = Winograd<M, R>::kTaps;
  constexpr int P = Winograd<M, R>::kPatch;
  const Tiling t = tiling_of<M, R>(s);
  const int64_t images = images_per_chunk(s, t, taps);
  const auto u = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * s.C));
  const auto v = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.C * images * t.per_image));
  const auto m = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * images * t.per_image));
  transform_filters<M, R>(s, weight, u.get());
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0), tiles = nb * t.per_image;
    transform_inputs<M, R>(s, t, x + n0 * s.C * s.H * s.W, nb, v.get());
    // One GEMM per thread at a time: inside a parallel region OpenBLAS runs on the calling
    // thread, so the taps' small GEMMs do not each pay a team's start and barrier (2 threads:
    // the stage-2 step 3% faster).
#pragma omp parallel for schedule(dynamic) if (omp_get_max_threads() > 1)
    for (int64_t xi = 0; xi < taps; ++xi)
      gemm_cpu(false, false, s.K, tiles, s.C, 1.0f, u.get() + xi * s.K * s.C, s.C, v.get() + xi * s.C * tiles, tiles,
               0.0f, m.get() + xi * s.K * tiles, tiles);
#pragma omp parallel if (worth_threads(nb * s.K * s.OH * s.OW))
    {
      std::vector<float> scratch(static_cast<size_t>((M * P + M * M) * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.K; ++plane) {
        const int64_t k = plane / nb, j = plane % nb;
        inverse_transform_plane<M, R>(s, t, m.get() + k * tiles + j * t.per_image, s.K * tiles, scratch.data(),
                                      y + ((n0 + j) * s.K + k) * s.OH * s.OW);
      }
    }
  }
}

// ---- the filter gradient -------------------------------------------------------------------
// With M = sum_c U (.) V and Y = A^T M A per tile, the adjoints are dM = A dY A^T, dU[k][c] =
// sum over tiles of dM[k] (.) V[c], and dg = G^T dU G: the same V, taps GEMMs
//   dU[xi] [K, C] = dM[xi] [K, P] * V[xi]^T [P, C]
// that reduce over the tiles of the whole batch (beta = 1 after the first chunk), then one small
// transform per filter. Tiles that stick out of the output read dY = 0 there.

// A applied to M vectors y[0..M) (dY along a tile row or column): the P vectors out[0..P).
template <int M, int R>
void gradient_transform(const float* const* y, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (M == 4) {
      const float y0 = y[0][tx], y1 = y[1][tx], y2 = y[2][tx], y3 = y[3][tx];
      const float even = y0 + y2, odd = y1 + y3;                         // rows 1, 2
      const float even4 = y0 + 4.0f * y2, odd4 = 2.0f * y1 + 8.0f * y3;  // rows 3, 4
      out[0][tx] = y0;
      out[1][tx] = even + odd;
      out[2][tx] = even - odd;
      out[3][tx] = even4 + odd4;
      out[4][tx] = even4 - odd4;
      out[5][tx] = y3;
    } else {
      out[0][tx] = y[0][tx];
      out[1][tx] = y[0][tx] + y[1][tx];
      out[2][tx] = y[1][tx];
    }
  }
}

// dM[xi][k][p0 + tile] = (A dY A^T)[xi] for every tile of one output-gradient plane.
// scratch: (M * M + M * P) * cols floats.
template <int M, int R>
void gradient_transform_plane(const ConvShape& s, const Tiling& t, const float* plane, float* scratch, float* dm,
                              int64_t stride_xi, int64_t p0) {
  constexpr int P = Winograd<M, R>::kPatch;
  const int64_t n = t.cols;
  float* cols = scratch;          // cols[i*M + b][tx] = dY[M ty + i][M tx + b], zero outside
  float* h = scratch + M * M * n;  // h[i*P + j][tx] = (dY A^T)[i][j]
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    std::fill(cols, cols + M * M * n, 0.0f);
    for (int64_t i = 0; i < M && M * ty + i < s.OH; ++i) {
      const float* row = plane + (M * ty + i) * s.OW;
      float* phase[M];
      for (int b = 0; b < M; ++b) phase[b] = cols + (i * M + b) * n;
      deinterleave<M>(row, s.OW / M, phase);
      for (int64_t ow = s.OW / M * M; ow < s.OW; ++ow) phase[ow % M][ow / M] = row[ow];
    }
    for (int i = 0; i < M; ++i) {
      const float* in[M];
      float* out[P];
      for (int b = 0; b < M; ++b) in[b] = cols + (i * M + b) * n;
      for (int j = 0; j < P; ++j) out[j] = h + (i * P + j) * n;
      gradient_transform<M, R>(in, n, out);
    }
    for (int j = 0; j < P; ++j) {
      const float* in[M];
      float* out[P];
      for (int i = 0; i < M; ++i) in[i] = h + (i * P + j) * n;
      for (int i = 0; i < P; ++i) out[i] = dm + (i * P + j) * stride_xi + p0 + ty * n;
      gradient_transform<M, R>(in, n, out);
    }
  }
}

// G^T applied to P vectors du[0..P): the R vectors out[0..R).
template <int M, int R>
void filter_gradient_transform(const float* const* du, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    if constexpr (M == 4) {
      const float s12 = du[1][c] + du[2][c], d12 = du[1][c] - du[2][c];
      const float s34 = du[3][c] + du[4][c], d34 = du[3][c] - du[4][c];
      out[0][c] = 0.25f * du[0][c] - s12 / 6.0f + s34 / 24.0f;
      out[1][c] = -d12 / 6.0f + d34 / 12.0f;
      out[2][c] = (s34 - s12) / 6.0f + du[5][c];
    } else {
      out[0][c] = du[0][c] + du[1][c];
      out[1][c] = du[1][c] + du[2][c];
    }
  }
}

// dweight[k][c] = G^T dU[k][c] G (added to dweight when accumulate): as transform_filters, over
// C-long vectors of dU's rows, the R*R taps of the C filters of one k scattered at the end.
template <int M, int R>
void filter_gradients(const ConvShape& s, const float* du, bool accumulate, float* dweight) {
  constexpr int P = Winograd<M, R>::kPatch;
  std::vector<float> rows(static_cast<size_t>(R * P * s.C)), taps(static_cast<size_t>(R * R * s.C));
  for (int64_t k = 0; k < s.K; ++k) {
    for (int j = 0; j < P; ++j) {  // G^T dU, column j: rows[i*P + j]
      const float* in[P];
      float* out[R];
      for (int i = 0; i < P; ++i) in[i] = du + ((i * P + j) * s.K + k) * s.C;
      for (int i = 0; i < R; ++i) out[i] = rows.data() + (i * P + j) * s.C;
      filter_gradient_transform<M, R>(in, s.C, out);
    }
    for (int i = 0; i < R; ++i) {  // (G^T dU) G, row i
      const float* in[P];
      float* out[R];
      for (int j = 0; j < P; ++j) in[j] = rows.data() + (i * P + j) * s.C;
      for (int q = 0; q < R; ++q) out[q] = taps.data() + (i * R + q) * s.C;
      filter_gradient_transform<M, R>(in, s.C, out);
    }
    for (int64_t c = 0; c < s.C; ++c) {
      float* g = dweight + (k * s.C + c) * R * R;
      for (int e = 0; e < R * R; ++e) g[e] = accumulate ? g[e] + taps[e * s.C + c] : taps[e * s.C + c];
    }
  }
}

template <int M, int R>
void winograd_backward_filter(const ConvShape& s, const float* x, const float* dy, bool accumulate, float* dweight) {
  constexpr int64_t taps = Winograd<M, R>::kTaps;
  constexpr int P = Winograd<M, R>::kPatch;
  const Tiling t = tiling_of<M, R>(s);
  const int64_t images = images_per_chunk(s, t, taps);
  const auto v = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.C * images * t.per_image));
  const auto dm = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * images * t.per_image));
  const auto du = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * s.C));
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0), tiles = nb * t.per_image;
    transform_inputs<M, R>(s, t, x + n0 * s.C * s.H * s.W, nb, v.get());
#pragma omp parallel if (worth_threads(nb * s.K * s.OH * s.OW))
    {
      std::vector<float> scratch(static_cast<size_t>((M * M + M * P) * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.K; ++plane) {
        const int64_t k = plane / nb, j = plane % nb;
        gradient_transform_plane<M, R>(s, t, dy + ((n0 + j) * s.K + k) * s.OH * s.OW, scratch.data(),
                                       dm.get() + k * tiles, s.K * tiles, j * t.per_image);
      }
    }
#pragma omp parallel for schedule(dynamic) if (omp_get_max_threads() > 1)  // as in winograd_forward
    for (int64_t xi = 0; xi < taps; ++xi)
      gemm_cpu(false, true, s.K, s.C, tiles, 1.0f, dm.get() + xi * s.K * tiles, tiles, v.get() + xi * s.C * tiles,
               tiles, n0 == 0 ? 0.0f : 1.0f, du.get() + xi * s.K * s.C, s.C);
  }
  filter_gradients<M, R>(s, du.get(), accumulate, dweight);
}

}  // namespace

bool winograd_applies(const ConvShape& s) {
  // The GEMMs reduce over C and write K rows; below C * K = 2048 the transforms cost more than
  // the flops they save (measured, 1 thread: C = K = 32 at 64x64 1.1x slower than im2col + SGEMM,
  // C = 32, K = 64 1.2x faster).
  return s.stride == 1 && s.R == s.S && (s.R == 2 || s.R == 3) && s.pad <= s.R - 1 && s.C >= 8 && s.K >= 8 &&
         s.C * s.K >= 2048 && s.OH >= 1 && s.OW >= 1;
}

void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* weight, float* y) {
  if (s.R == 3) return winograd_forward<4, 3>(s, x, weight, y);
  winograd_forward<2, 2>(s, x, weight, y);
}

void conv2d_backward_filter_winograd(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  if (s.R == 3) return winograd_backward_filter<4, 3>(s, x, dy, false, dweight);
  winograd_backward_filter<2, 2>(s, x, dy, false, dweight);
}

// ---- 4x4 stride-2 convolutions as 2x2 stride-1 ones ----------------------------------------
// With the phase planes x_ab[i][j] = x[2i - a][2j - b] (a, b in {0, 1}; zero outside x) and the
// sub-filters w_ab[k][c][i][j] = w[k][c][2i + 1 - a][2j + 1 - b], a 4x4 stride-2 padding-1
// convolution is   y[k][o][p] = sum over c, a, b, i, j of w_ab[k][c][i][j] x_ab[o + i][p + j]:
// a 2x2 stride-1 convolution over 4C channels ((c, a, b) -> 4c + 2a + b) of (OH+1) x (OW+1)
// planes, which F(2x2, 2x2) computes with 9 instead of 16 multiplies per output and channel.

namespace {

// The encoder's, D_img's and (as adjoints) the decoder's convolutions: 4x4, stride 2, padding 1.
bool is_k4_s2_p1(const ConvShape& s) { return s.stride == 2 && s.R == 4 && s.S == 4 && s.pad == 1; }

// Floats of one image's 4C phase planes, and how many images a chunk of them takes.
int64_t phase_plane_floats(const ConvShape& s) { return 4 * s.C * (s.OH + 1) * (s.OW + 1); }
int64_t phase_images_per_chunk(const ConvShape& s) {
  return std::clamp<int64_t>(kMaxChunkFloats / phase_plane_floats(s), 1, s.N);
}

ConvShape polyphase_shape(const ConvShape& s, int64_t images) {
  return conv_shape(images, 4 * s.C, s.OH + 1, s.OW + 1, s.K, 2, 2, 1, 0);
}

// x_ab of `images` images: [images, 4C, OH+1, OW+1].
void phase_planes(const ConvShape& s, const float* x, int64_t images, float* phases) {
  const int64_t ph = s.OH + 1, pw = s.OW + 1;
#pragma omp parallel for schedule(static) if (worth_threads(images * s.C * s.H * s.W))
  for (int64_t plane = 0; plane < images * s.C; ++plane) {
    const float* in = x + plane * s.H * s.W;
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b) {
        float* out = phases + (plane * 4 + a * 2 + b) * ph * pw;
        // Input column 2j - b lies in [0, W) for j in [b, (W - 1 + b) / 2].
        const int64_t j_lo = b, j_hi = std::min(pw, (s.W - 1 + b) / 2 + 1);
        for (int64_t i = 0; i < ph; ++i, out += pw) {
          const int64_t row = 2 * i - a;
          std::fill(out, out + pw, 0.0f);
          if (row < 0 || row >= s.H) continue;
          const float* src = in + row * s.W;
          for (int64_t j = j_lo; j < j_hi; ++j) out[j] = src[2 * j - b];
        }
      }
  }
}

// Calls f(phase, tap) for each of the 16 K*C taps: w_ab [K, 4C, 2, 2] at `phase` is w at `tap`.
template <typename F>
void for_each_phase_tap(const ConvShape& s, F&& f) {
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < 2; ++b)
          for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 2; ++j)
              f((((k * s.C + c) * 4 + a * 2 + b) * 2 + i) * 2 + j, ((k * s.C + c) * 4 + 2 * i + 1 - a) * 4 + 2 * j + 1 - b);
}

// w_ab: [K, 4C, 2, 2].
void phase_filters(const ConvShape& s, const float* weight, float* phases) {
  for_each_phase_tap(s, [&](int64_t phase, int64_t tap) { phases[phase] = weight[tap]; });
}

}  // namespace

bool polyphase_applies(const ConvShape& s) {
  // From 8x8 outputs on (16 tiles per image); on 4x4 outputs the transformed filters, 9/4 the
  // size of the weight, cost more than the flops saved (measured in the stage-1 step, 1 thread:
  // D_img's 8x8 -> 4x4 layer 1.3x slower, the 32x32 -> 16x16 and 16x16 -> 8x8 ones 1.1-1.25x faster).
  return is_k4_s2_p1(s) && s.OH * s.OW >= 64 &&
         winograd_applies(polyphase_shape(s, s.N));
}

bool polyphase_filter_gradient_applies(const ConvShape& s) {
  // From 4x4 outputs on, where the forward is slower but the filter gradient faster than im2col
  // + SGEMM (measured on the 8x8 -> 4x4 layers, 1 thread: docs/kernels.md); its GEMMs reduce over
  // the tiles of the whole batch, the forward's only over 4C.
  return is_k4_s2_p1(s) && s.OH * s.OW >= 16 && winograd_applies(polyphase_shape(s, s.N));
}

// ---- their backward-data ---------------------------------------------------------------------
// dx[2i + a][2j + b] (a, b in {0, 1}) collects dy at rows i - 1 + a .. i + a and columns
// j - 1 + b .. j + b, with taps w[3 - a - 2t][3 - b - 2u] for the row offset t and column offset
// u: for each of the four phases a 2x2 convolution of dy padded by 1. Stacked as 4C output
// channels (4c + 2a + b) they are one 2x2 stride-1 padding-1 convolution of dy, [N, 4C, OH+1, OW+1],
// whose planes then interleave into dx: dx[c][2i + a][2j + b] = out[4c + 2a + b][i + a][j + b].

namespace {

ConvShape phase_gradient_shape(const ConvShape& s, int64_t images) {
  return conv_shape(images, s.K, s.OH, s.OW, 4 * s.C, 2, 2, 1, 1);
}

// [4C, K, 2, 2]: the phase filters of the backward-data.
void phase_gradient_filters(const ConvShape& s, const float* weight, float* phases) {
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t k = 0; k < s.K; ++k)
          for (int64_t t = 0; t < 2; ++t)
            for (int64_t u = 0; u < 2; ++u)
              phases[(((c * 4 + a * 2 + b) * s.K + k) * 2 + t) * 2 + u] =
                  weight[((k * s.C + c) * 4 + 3 - a - 2 * t) * 4 + 3 - b - 2 * u];
}

// dx of `images` images from the stacked phase outputs [images, 4C, OH+1, OW+1].
void interleave_phases(const ConvShape& s, const float* phases, int64_t images, float* dx) {
  const int64_t pw = s.OW + 1, plane = (s.OH + 1) * pw;
#pragma omp parallel for schedule(static) if (worth_threads(images * s.C * s.H * s.W))
  for (int64_t p = 0; p < images * s.C; ++p) {
    float* out = dx + p * s.H * s.W;
    for (int64_t row = 0; row < s.H; ++row) {
      const int64_t i = row / 2, a = row % 2;
      const float* even = phases + (p * 4 + a * 2) * plane + (i + a) * pw;  // b = 0: column 2j from out[j]
      const float* columns[2] = {even, even + plane + 1};                  // b = 1: column 2j + 1 from out[j + 1]
      interleave<2>(columns, s.W, out + row * s.W);
    }
  }
}

}  // namespace

bool polyphase_backward_data_applies(const ConvShape& s) {
  // From 16x16 outputs on (measured in the stage-1 step, 1 thread: the 32x32 -> 16x16 layers
  // 1.15-1.25x faster, the 16x16 -> 8x8 ones 1.01-1.13x slower: the interleave pass over dx and
  // the transformed filters weigh more where the planes are small).
  return is_k4_s2_p1(s) && s.OH * s.OW >= 256 &&
         winograd_applies(phase_gradient_shape(s, s.N));
}

void conv2d_backward_data_polyphase(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  const int64_t plane_floats = phase_plane_floats(s), images = phase_images_per_chunk(s);
  const auto filters = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(4 * s.C * s.K * 4));
  const auto phases = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(images * plane_floats));
  phase_gradient_filters(s, weight, filters.get());
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0);
    winograd_forward<2, 2>(phase_gradient_shape(s, nb), dy + n0 * s.K * s.OH * s.OW, filters.get(), phases.get());
    interleave_phases(s, phases.get(), nb, dx + n0 * s.C * s.H * s.W);
  }
}

// The filter gradient of the 2x2 convolution over the phase planes, [K, 4C, 2, 2], holds every tap
// of the 4x4 one once: dW[k][c][2i + 1 - a][2j + 1 - b] = dW'[k][4c + 2a + b][i][j].
void conv2d_backward_filter_polyphase(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  const int64_t plane_floats = phase_plane_floats(s), images = phase_images_per_chunk(s);
  const auto phases = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(images * plane_floats));
  const auto gradient = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(s.K * 4 * s.C * 4));
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0);
    phase_planes(s, x + n0 * s.C * s.H * s.W, nb, phases.get());
    winograd_backward_filter<2, 2>(polyphase_shape(s, nb), phases.get(), dy + n0 * s.K * s.OH * s.OW, n0 > 0,
                                gradient.get());
  }
  for_each_phase_tap(s, [&](int64_t phase, int64_t tap) { dweight[tap] = gradient[phase]; });
}

void conv2d_forward_polyphase(const ConvShape& s, const float* x, const float* weight, float* y) {
  const int64_t plane_floats = phase_plane_floats(s), images = phase_images_per_chunk(s);
  const auto filters = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(s.K * 4 * s.C * 4));
  const auto phases = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(images * plane_floats));
  phase_filters(s, weight, filters.get());
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0);
    phase_planes(s, x + n0 * s.C * s.H * s.W, nb, phases.get());
    winograd_forward<2, 2>(polyphase_shape(s, nb), phases.get(), filters.get(), y + n0 * s.K * s.OH * s.OW);
  }
}

}  // namespace fer
