// CPU convolutions by Winograd's minimal filtering F(2x2, RxR), R = 3 or 2 (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016), and the 4x4 stride-2 convolutions of
// the encoder, D_img and the decoder rewritten as 2x2 stride-1 ones over phase planes.
//
// Each 2x2 block of outputs (a tile) is computed from the (R+1)x(R+1) input patch under it:
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.) = elementwise product
// with g an RxR filter, d the patch, and
//   F(2x2, 3x3): G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
//                A^T = [1 1 1 0; 0 1 -1 -1]
//   F(2x2, 2x2): G = [1 0; 1 1; 0 1],  B^T = [1 -1 0; 0 1 0; 0 -1 1],  A^T = [1 1 0; 0 1 1].
// Summed over the input channels, the (R+1)^2 elementwise products become independent GEMMs:
//   M[xi] [K, P] = U[xi] [K, C] * V[xi] [C, P]     P = tiles of a chunk of images
// with U = the transformed filters and V = the transformed patches: 16 multiply-adds per 4
// outputs and input channel instead of 36 for 3x3 (2.25x fewer GEMM flops than im2col + SGEMM),
// 9 instead of 16 for 2x2.
// Rounding: the transforms add and subtract at most 4 terms and halve; the result differs from
// the direct sum by a few ulp of the largest partial sums (the tests bound it against the
// plain-loop reference).
//
// Layouts: U [xi][K][C]; V [xi][C][P]; M [xi][K][P]; tile p = j*tiles + ty*tiles_w + tx for image
// j of the chunk. Input planes are first copied into a zero-bordered buffer so that every tile
// reads a full patch without bounds checks, its columns split into even and odd ones so that
// each transform is a few unit-stride loops over a row of tiles.
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

// F(2x2, RxR): 2x2 output tiles from (R+1)x(R+1) patches, R = 2 or 3.
template <int R>
struct Winograd {
  static constexpr int kPatch = R + 1;
  static constexpr int64_t kTaps = kPatch * kPatch;
};

struct Tiling {
  int64_t rows, cols, per_image;  // tiles per image: rows x cols of 2x2 output blocks
  int64_t padded_h, padded_w;     // the zero-bordered input plane that covers every tile's patch
  int64_t half;                   // entries per row of the even (and odd) columns of that plane
};

Tiling tiling_of(const ConvShape& s) {
  Tiling t;
  t.rows = (s.OH + 1) / 2;
  t.cols = (s.OW + 1) / 2;
  t.per_image = t.rows * t.cols;
  t.padded_h = 2 * t.rows + s.R - 1;
  t.padded_w = 2 * t.cols + s.R - 1;
  t.half = (t.padded_w + 1) / 2;
  return t;
}

// The four values of G g for a 3-tap g (F(2,3)), or the three for a 2-tap g (F(2,2)).
template <int R>
void filter_transform_1d(const float* g, int64_t step, float* out) {
  if constexpr (R == 3) {
    out[0] = g[0];
    out[1] = 0.5f * (g[0] + g[step] + g[2 * step]);
    out[2] = 0.5f * (g[0] - g[step] + g[2 * step]);
    out[3] = g[2 * step];
  } else {
    out[0] = g[0];
    out[1] = g[0] + g[step];
    out[2] = g[step];
  }
}

// U[xi][k][c] = (G g G^T)[xi] for filter g = weight[k][c].
template <int R>
void transform_filters(const ConvShape& s, const float* weight, float* u) {
  constexpr int P = Winograd<R>::kPatch;
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c) {
      const float* g = weight + (k * s.C + c) * R * R;
      float t[R][P];  // g G^T, row by row
      for (int i = 0; i < R; ++i) filter_transform_1d<R>(g + i * R, 1, t[i]);
      for (int j = 0; j < P; ++j) {  // G (g G^T), column by column
        float col[P];
        filter_transform_1d<R>(&t[0][j], P, col);
        for (int i = 0; i < P; ++i) u[((i * P + j) * s.K + k) * s.C + c] = col[i];
      }
    }
}

// first[m] = in[2m], second[m] = in[2m + 1] for m < pairs: one pass over interleaved pairs (which
// GCC vectorizes with shuffles; two stride-2 loops did not vectorize).
void deinterleave(const float* __restrict in, int64_t pairs, float* __restrict first, float* __restrict second) {
  for (int64_t m = 0; m < pairs; ++m) {
    first[m] = in[2 * m];
    second[m] = in[2 * m + 1];
  }
}

// The zero-bordered copy of one input plane, its columns split by parity: tile tx's patch row
// holds columns 2tx, 2tx+1, 2tx+2 (, 2tx+3) = even[tx], odd[tx], even[tx+1] (, odd[tx+1]), so that
// the transforms below read every operand with unit stride (and vectorize).
void split_padded_plane(const ConvShape& s, const Tiling& t, const float* plane, float* even, float* odd) {
  std::fill(even, even + t.padded_h * t.half, 0.0f);
  std::fill(odd, odd + t.padded_h * t.half, 0.0f);
  const int64_t rows = std::min(s.H, t.padded_h - s.pad), cols = std::min(s.W, t.padded_w - s.pad);
  // Input column iw is padded column iw + pad: even[(iw + pad) / 2] or odd[(iw + pad) / 2]. An
  // even pad sends the even input columns to `even`, an odd one to `odd`, from these offsets.
  const bool even_pad = s.pad % 2 == 0;
  const int64_t first_offset = s.pad / 2, second_offset = (s.pad + 1) / 2;
  for (int64_t ih = 0; ih < rows; ++ih) {
    const float* in = plane + ih * s.W;
    float* e = even + (ih + s.pad) * t.half;
    float* o = odd + (ih + s.pad) * t.half;
    float* first = (even_pad ? e : o) + first_offset;    // input columns 0, 2, 4, ...
    float* second = (even_pad ? o : e) + second_offset;  // input columns 1, 3, 5, ...
    deinterleave(in, cols / 2, first, second);
    if (cols % 2 == 1) first[cols / 2] = in[cols - 1];
  }
}

// d B along one patch row for every tile of a tile row: out[j][tx] for j < kPatch.
//   F(2,3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1];  F(2,2): B^T = [1 -1 0; 0 1 0; 0 -1 1].
template <int R>
void input_transform_row(const float* e, const float* o, int64_t n, float* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (R == 3) {
      out[tx] = e[tx] - e[tx + 1];
      out[n + tx] = o[tx] + e[tx + 1];
      out[2 * n + tx] = e[tx + 1] - o[tx];
      out[3 * n + tx] = o[tx] - o[tx + 1];
    } else {
      out[tx] = e[tx] - o[tx];
      out[n + tx] = o[tx];
      out[2 * n + tx] = e[tx + 1] - o[tx];
    }
  }
}

// B^T applied down the patch rows: out[i] from h[0..kPatch) (rows of tile-row vectors).
template <int R>
void input_transform_column(const float* const* h, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (R == 3) {
      out[0][tx] = h[0][tx] - h[2][tx];
      out[1][tx] = h[1][tx] + h[2][tx];
      out[2][tx] = h[2][tx] - h[1][tx];
      out[3][tx] = h[1][tx] - h[3][tx];
    } else {
      out[0][tx] = h[0][tx] - h[1][tx];
      out[1][tx] = h[1][tx];
      out[2][tx] = h[2][tx] - h[1][tx];
    }
  }
}

// A^T applied to kPatch vectors a[0..kPatch): the two outputs.
//   F(2,3): A^T = [1 1 1 0; 0 1 -1 -1];  F(2,2): A^T = [1 1 0; 0 1 1].
template <int R>
void output_transform(const float* const* a, int64_t n, float* out0, float* out1) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    if constexpr (R == 3) {
      out0[tx] = a[0][tx] + a[1][tx] + a[2][tx];
      out1[tx] = a[1][tx] - a[2][tx] - a[3][tx];
    } else {
      out0[tx] = a[0][tx] + a[1][tx];
      out1[tx] = a[1][tx] + a[2][tx];
    }
  }
}

// V[xi][c][p0 + tile] = (B^T d B)[xi] for every tile of one input plane (channel c of an image).
// scratch: 2 * padded_h * half + kTaps * cols floats.
template <int R>
void transform_plane(const ConvShape& s, const Tiling& t, const float* plane, float* scratch, float* v,
                     int64_t stride_xi, int64_t p0) {
  constexpr int P = Winograd<R>::kPatch;
  const int64_t n = t.cols;
  float* even = scratch;
  float* odd = even + t.padded_h * t.half;
  float* h = odd + t.padded_h * t.half;  // h[i*P + j][tx]: (d B)[i][j] of tile tx's patch
  split_padded_plane(s, t, plane, even, odd);
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    for (int i = 0; i < P; ++i)
      input_transform_row<R>(even + (2 * ty + i) * t.half, odd + (2 * ty + i) * t.half, n, h + i * P * n);
    for (int j = 0; j < P; ++j) {  // B^T (d B), column j of every patch
      const float* rows[P];
      float* out[P];
      for (int i = 0; i < P; ++i) {
        rows[i] = h + (i * P + j) * n;
        out[i] = v + (i * P + j) * stride_xi + p0 + ty * n;
      }
      input_transform_column<R>(rows, n, out);
    }
  }
}

// out[2j] = even[j], out[2j + 1] = odd[j] for out[0, width).
void interleave(const float* even, const float* odd, int64_t width, float* out) {
  const int64_t pairs = width / 2;
#pragma omp simd
  for (int64_t j = 0; j < pairs; ++j) {
    out[2 * j] = even[j];
    out[2 * j + 1] = odd[j];
  }
  if (width % 2 == 1) out[width - 1] = even[pairs];
}

// One output plane (filter k of an image) from its tiles' M values: Y = A^T m A, clipped to
// OH x OW. scratch: 2 * kPatch * cols + 4 * cols floats.
template <int R>
void inverse_transform_plane(const ConvShape& s, const Tiling& t, const float* m, int64_t stride_xi, float* scratch,
                             float* plane) {
  constexpr int P = Winograd<R>::kPatch;
  const int64_t n = t.cols;
  float* r = scratch;          // r[i*P + j][tx] = (A^T m)[i][j], i < 2
  float* y = r + 2 * P * n;    // y[i*2 + j][tx] = (A^T m A)[i][j]
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    for (int j = 0; j < P; ++j) {
      const float* a[P];
      for (int i = 0; i < P; ++i) a[i] = m + (i * P + j) * stride_xi + ty * n;
      output_transform<R>(a, n, r + j * n, r + (P + j) * n);
    }
    for (int i = 0; i < 2; ++i) {
      const float* a[P];
      for (int j = 0; j < P; ++j) a[j] = r + (i * P + j) * n;
      output_transform<R>(a, n, y + i * 2 * n, y + (i * 2 + 1) * n);
    }
    for (int i = 0; i < 2 && 2 * ty + i < s.OH; ++i)  // the tiles' left and right columns
      interleave(y + i * 2 * n, y + (i * 2 + 1) * n, s.OW, plane + (2 * ty + i) * s.OW);
  }
}

// V [taps][C][nb * tiles per image] of the nb images at x.
template <int R>
void transform_inputs(const ConvShape& s, const Tiling& t, const float* x, int64_t nb, float* v) {
  const int64_t tiles = nb * t.per_image;
#pragma omp parallel if (worth_threads(nb * s.C * s.H * s.W))
  {
    std::vector<float> scratch(static_cast<size_t>(2 * t.padded_h * t.half + Winograd<R>::kTaps * t.cols));
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < nb * s.C; ++plane) {
      const int64_t c = plane / nb, j = plane % nb;
      transform_plane<R>(s, t, x + (j * s.C + c) * s.H * s.W, scratch.data(), v + c * tiles, s.C * tiles, j * t.per_image);
    }
  }
}

// The number of images a chunk takes: its V and M (or dM) stay under kMaxChunkFloats.
int64_t images_per_chunk(const ConvShape& s, const Tiling& t, int64_t taps) {
  return std::clamp<int64_t>(kMaxChunkFloats / (taps * (s.C + s.K) * t.per_image), 1, s.N);
}

template <int R>
void winograd_forward(const ConvShape& s, const float* x, const float* weight, float* y) {
  constexpr int64_t taps = Winograd<R>::kTaps;
  constexpr int P = Winograd<R>::kPatch;
  const Tiling t = tiling_of(s);
  const int64_t images = images_per_chunk(s, t, taps);
  const auto u = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * s.C));
  const auto v = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.C * images * t.per_image));
  const auto m = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * images * t.per_image));
  transform_filters<R>(s, weight, u.get());
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0), tiles = nb * t.per_image;
    transform_inputs<R>(s, t, x + n0 * s.C * s.H * s.W, nb, v.get());
    // One GEMM per thread at a time: inside a parallel region OpenBLAS runs on the calling
    // thread, so the taps' small GEMMs do not each pay a team's start and barrier (2 threads:
    // the stage-2 step 3% faster).
#pragma omp parallel for schedule(dynamic) if (omp_get_max_threads() > 1)
    for (int64_t xi = 0; xi < taps; ++xi)
      gemm_cpu(false, false, s.K, tiles, s.C, 1.0f, u.get() + xi * s.K * s.C, s.C, v.get() + xi * s.C * tiles, tiles,
               0.0f, m.get() + xi * s.K * tiles, tiles);
#pragma omp parallel if (worth_threads(nb * s.K * s.OH * s.OW))
    {
      std::vector<float> scratch(static_cast<size_t>((2 * P + 4) * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.K; ++plane) {
        const int64_t k = plane / nb, j = plane % nb;
        inverse_transform_plane<R>(s, t, m.get() + k * tiles + j * t.per_image, s.K * tiles, scratch.data(),
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

// A applied to two values (dY along a tile row or column): the kPatch values of A dy.
//   F(2,3): A = [1 0; 1 1; 1 -1; 0 -1];  F(2,2): A = [1 0; 1 1; 0 1].
template <int R>
void gradient_transform(const float* y0, const float* y1, int64_t n, float* const* out) {
#pragma omp simd
  for (int64_t tx = 0; tx < n; ++tx) {
    out[0][tx] = y0[tx];
    out[1][tx] = y0[tx] + y1[tx];
    if constexpr (R == 3) {
      out[2][tx] = y0[tx] - y1[tx];
      out[3][tx] = -y1[tx];
    } else {
      out[2][tx] = y1[tx];
    }
  }
}

// dM[xi][k][p0 + tile] = (A dY A^T)[xi] for every tile of one output-gradient plane.
// scratch: 4 * cols + 2 * kPatch * cols floats.
template <int R>
void gradient_transform_plane(const ConvShape& s, const Tiling& t, const float* plane, float* scratch, float* dm,
                              int64_t stride_xi, int64_t p0) {
  constexpr int P = Winograd<R>::kPatch;
  const int64_t n = t.cols;
  float* cols = scratch;         // cols[i*2 + b][tx] = dY[2ty + i][2tx + b], zero outside
  float* h = scratch + 4 * n;    // h[i*P + j][tx] = (dY A^T)[i][j]
  for (int64_t ty = 0; ty < t.rows; ++ty) {
    std::fill(cols, cols + 4 * n, 0.0f);
    for (int64_t i = 0; i < 2 && 2 * ty + i < s.OH; ++i) {
      const float* row = plane + (2 * ty + i) * s.OW;
      for (int64_t ow = 0; ow < s.OW; ++ow) cols[(i * 2 + ow % 2) * n + ow / 2] = row[ow];
    }
    for (int64_t i = 0; i < 2; ++i) {
      float* out[P];
      for (int j = 0; j < P; ++j) out[j] = h + (i * P + j) * n;
      gradient_transform<R>(cols + i * 2 * n, cols + (i * 2 + 1) * n, n, out);
    }
    for (int j = 0; j < P; ++j) {
      float* out[P];
      for (int i = 0; i < P; ++i) out[i] = dm + (i * P + j) * stride_xi + p0 + ty * n;
      gradient_transform<R>(h + j * n, h + (P + j) * n, n, out);
    }
  }
}

// G^T applied to kPatch values: the R values of the filter gradient.
//   F(2,3): G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1];  F(2,2): G^T = [1 1 0; 0 1 1].
template <int R>
void filter_gradient_1d(const float* du, int64_t step, float* out) {
  if constexpr (R == 3) {
    out[0] = du[0] + 0.5f * (du[step] + du[2 * step]);
    out[1] = 0.5f * (du[step] - du[2 * step]);
    out[2] = 0.5f * (du[step] + du[2 * step]) + du[3 * step];
  } else {
    out[0] = du[0] + du[step];
    out[1] = du[step] + du[2 * step];
  }
}

// dweight[k][c] = G^T dU[k][c] G (added to dweight when accumulate).
template <int R>
void filter_gradients(const ConvShape& s, const float* du, bool accumulate, float* dweight) {
  constexpr int P = Winograd<R>::kPatch;
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c) {
      float tile[P * P];
      for (int xi = 0; xi < P * P; ++xi) tile[xi] = du[(xi * s.K + k) * s.C + c];
      float t[R][P];  // G^T dU
      for (int j = 0; j < P; ++j) {
        float col[R];
        filter_gradient_1d<R>(tile + j, P, col);
        for (int i = 0; i < R; ++i) t[i][j] = col[i];
      }
      float* g = dweight + (k * s.C + c) * R * R;
      for (int i = 0; i < R; ++i) {  // (G^T dU) G
        float row[R];
        filter_gradient_1d<R>(t[i], 1, row);
        for (int q = 0; q < R; ++q) g[i * R + q] = accumulate ? g[i * R + q] + row[q] : row[q];
      }
    }
}

template <int R>
void winograd_backward_filter(const ConvShape& s, const float* x, const float* dy, bool accumulate, float* dweight) {
  constexpr int64_t taps = Winograd<R>::kTaps;
  constexpr int P = Winograd<R>::kPatch;
  const Tiling t = tiling_of(s);
  const int64_t images = images_per_chunk(s, t, taps);
  const auto v = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.C * images * t.per_image));
  const auto dm = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * images * t.per_image));
  const auto du = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(taps * s.K * s.C));
  for (int64_t n0 = 0; n0 < s.N; n0 += images) {
    const int64_t nb = std::min(images, s.N - n0), tiles = nb * t.per_image;
    transform_inputs<R>(s, t, x + n0 * s.C * s.H * s.W, nb, v.get());
#pragma omp parallel if (worth_threads(nb * s.K * s.OH * s.OW))
    {
      std::vector<float> scratch(static_cast<size_t>((4 + 2 * P) * t.cols));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < nb * s.K; ++plane) {
        const int64_t k = plane / nb, j = plane % nb;
        gradient_transform_plane<R>(s, t, dy + ((n0 + j) * s.K + k) * s.OH * s.OW, scratch.data(),
                                    dm.get() + k * tiles, s.K * tiles, j * t.per_image);
      }
    }
#pragma omp parallel for schedule(dynamic) if (omp_get_max_threads() > 1)  // as in winograd_forward
    for (int64_t xi = 0; xi < taps; ++xi)
      gemm_cpu(false, true, s.K, s.C, tiles, 1.0f, dm.get() + xi * s.K * tiles, tiles, v.get() + xi * s.C * tiles,
               tiles, n0 == 0 ? 0.0f : 1.0f, du.get() + xi * s.K * s.C, s.C);
  }
  filter_gradients<R>(s, du.get(), accumulate, dweight);
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
  if (s.R == 3) return winograd_forward<3>(s, x, weight, y);
  winograd_forward<2>(s, x, weight, y);
}

void conv2d_backward_filter_winograd(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  if (s.R == 3) return winograd_backward_filter<3>(s, x, dy, false, dweight);
  winograd_backward_filter<2>(s, x, dy, false, dweight);
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
      const float* odd = even + plane + 1;                                  // b = 1: column 2j + 1 from out[j + 1]
      interleave(even, odd, s.W, out + row * s.W);
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
    winograd_forward<2>(phase_gradient_shape(s, nb), dy + n0 * s.K * s.OH * s.OW, filters.get(), phases.get());
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
    winograd_backward_filter<2>(polyphase_shape(s, nb), phases.get(), dy + n0 * s.K * s.OH * s.OW, n0 > 0,
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
    winograd_forward<2>(polyphase_shape(s, nb), phases.get(), filters.get(), y + n0 * s.K * s.OH * s.OW);
  }
}

}  // namespace fer
