// CPU 3x3 stride-1 convolutions computed directly in AVX2/FMA registers, for the layers where
// neither im2col + SGEMM nor Winograd runs near the FMA units' peak: few channels on large planes
// (the recognizer's 32 -> 32 at 64x64; C * K = 1024 is below Winograd's break-even). There,
// im2col writes and SGEMM re-reads a column buffer 9x the input (4.7 MB per image, out of L2),
// and SGEMM's K = 32-row products leave its kernel underfed.
//
// Both directions work on one image at a time, from a zero-bordered copy of its planes:
//   padded [C][OH + 2][PW], PW = OW rounded up to 8 plus 2: padded[c][oh + r][ow + q] holds
//   x[c][oh + r - pad][ow + q - pad], so every output block reads its 3x3 window with unaligned
//   8-wide loads and no bounds checks (columns past OW read zeros or finite values that only
//   reach lanes never stored).
// Forward: a register block is 4 output channels x 3 vectors (24 output columns) of one output
//   row: 12 accumulators, and per (c, r, q) 3 loads of x and 4 broadcasts of w for 12 FMAs (the
//   FMA units, not the loads, bound it). The filters are repacked [K/4][C][3][3][4] so that a
//   block's broadcasts read consecutive floats; filters past K are zero and their rows not stored.
// Filter gradient: a register block is 4 output channels x the 3 taps q of one (c, r): 12 vector
//   accumulators of dW[k][c][r][q]'s lane sums, and per 8 output columns 4 loads of dy and 3 of x
//   for 12 FMAs. Rows are taken 8 at a time so that a block's dy and x rows stay in L2 while
//   every block passes over them; the lane sums live in a [K/4][C][3][4][3][8] buffer between
//   row groups and are added across lanes (and threads) once, at the end.
// Rounding: the forward sums each output over (c, r, q) in the reference's order; the filter
//   gradient sums 8 interleaved partial sums per weight, then adds them.
// Threads: the forward splits the images over OpenMP's threads; the filter gradient gives each
//   thread a slice of the images and its own lane sums, added in thread order.
// Needs AVX2 and FMA, checked at run time (the build targets baseline x86-64): direct_applies is
// false without them, and on other architectures.
#include "kernels/conv/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define FER_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace fer {

#if defined(__x86_64__)

namespace {

constexpr int64_t kLanes = 8;         // floats per AVX2 vector
constexpr int64_t kFilterBlock = 4;   // output channels per register block
constexpr int64_t kMaxVectors = 3;    // vectors (of output columns) per forward register block
constexpr int64_t kRowsPerGroup = 8;  // output rows per pass of the filter gradient's blocks

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// Register blocks of 4 output channels that cover K (the last one padded with zero filters).
int64_t filter_blocks(const ConvShape& s) { return (s.K + kFilterBlock - 1) / kFilterBlock; }

struct PaddedImage {
  explicit PaddedImage(const ConvShape& s)
      : rows(s.OH + 2),
        cols(round_up(s.OW, kLanes) + 2),
        data(std::make_unique<float[]>(static_cast<size_t>(s.C * rows * cols))) {}
  int64_t rows, cols;
  std::unique_ptr<float[]> data;  // zero-initialized: the border stays zero across images

  const float* row(int64_t c, int64_t padded_row) const { return data.get() + (c * rows + padded_row) * cols; }
};

// Copies image x [C, H, W] into the padded planes (the border is never written).
void fill_padded(const ConvShape& s, const float* x, PaddedImage& p) {
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t ih = 0; ih < s.H; ++ih) {
      const float* in = x + (c * s.H + ih) * s.W;
      std::copy(in, in + s.W, p.data.get() + (c * p.rows + ih + s.pad) * p.cols + s.pad);
    }
}

// Filters repacked [K/4][C][3][3][4], zero past K.
std::unique_ptr<float[]> pack_filters(const ConvShape& s, const float* weight) {
  const int64_t blocks = filter_blocks(s);
  auto packed = std::make_unique<float[]>(static_cast<size_t>(blocks * s.C * 9 * kFilterBlock));
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t t = 0; t < 9; ++t)
        packed[((k / kFilterBlock * s.C + c) * 9 + t) * kFilterBlock + k % kFilterBlock] = weight[(k * s.C + c) * 9 + t];
  return packed;
}

// The lanes [0, n) of a vector store (n < 8).
FER_AVX2 __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// One register block of the forward: output columns [ow0, ow0 + 8V) of one output row, 4 output
// channels. `in` is the block's window in padded row (c = 0, oh); the (c, r) rows follow at
// plane_step and row_step. `w` is the block's packed filters. Plain pointers and strides (no
// structs) and full unrolling let GCC keep the 12 accumulators in registers.
template <int V>
FER_AVX2 void forward_block(const float* __restrict in, int64_t C, int64_t plane_step, int64_t row_step,
                            const float* __restrict w, __m256 (&acc)[kFilterBlock][V]) {
#pragma GCC unroll 4
  for (int i = 0; i < kFilterBlock; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < C; ++c, in += plane_step)
#pragma GCC unroll 3
    for (int r = 0; r < 3; ++r)
#pragma GCC unroll 3
      for (int q = 0; q < 3; ++q, w += kFilterBlock) {
        __m256 xv[V];
#pragma GCC unroll 3
        for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_ps(in + r * row_step + q + v * kLanes);
#pragma GCC unroll 4
        for (int i = 0; i < kFilterBlock; ++i) {
          const __m256 wv = _mm256_broadcast_ss(w + i);
#pragma GCC unroll 3
          for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(wv, xv[v], acc[i][v]);
        }
      }
}

// Computes and stores the block at output row oh, columns [ow0, ow0 + 8V), channels [4kb, 4kb + 4)
// of one image (only the channels below K and the columns below OW).
template <int V>
FER_AVX2 void forward_store(const ConvShape& s, const PaddedImage& p, const float* packed, int64_t kb, int64_t oh,
                            int64_t ow0, float* y_image) {
  __m256 acc[kFilterBlock][V];
  forward_block<V>(p.row(0, oh) + ow0, s.C, p.rows * p.cols, p.cols, packed + kb * s.C * 9 * kFilterBlock, acc);
  for (int64_t i = 0; i < kFilterBlock && kb * kFilterBlock + i < s.K; ++i) {
    float* out = y_image + ((kb * kFilterBlock + i) * s.OH + oh) * s.OW + ow0;
    for (int v = 0; v < V; ++v) {
      const int64_t left = s.OW - ow0 - v * kLanes;
      if (left >= kLanes)
        _mm256_storeu_ps(out + v * kLanes, acc[i][v]);
      else
        _mm256_maskstore_ps(out + v * kLanes, first_lanes(left), acc[i][v]);
    }
  }
}

FER_AVX2 void forward_image(const ConvShape& s, const PaddedImage& p, const float* packed, float* y_image) {
  const int64_t blocks = filter_blocks(s), block_cols = kMaxVectors * kLanes;
  for (int64_t oh = 0; oh < s.OH; ++oh)
    for (int64_t kb = 0; kb < blocks; ++kb) {
      int64_t ow0 = 0;
      for (; ow0 + block_cols <= s.OW; ow0 += block_cols) forward_store<3>(s, p, packed, kb, oh, ow0, y_image);
      const int64_t left = s.OW - ow0;
      if (left > 2 * kLanes)
        forward_store<3>(s, p, packed, kb, oh, ow0, y_image);
      else if (left > kLanes)
        forward_store<2>(s, p, packed, kb, oh, ow0, y_image);
      else if (left > 0)
        forward_store<1>(s, p, packed, kb, oh, ow0, y_image);
    }
}

// The filter gradient's lane sums: [K/4][C][3][4][3] vectors (r, channel of the block, tap q).
struct LaneSums {
  explicit LaneSums(const ConvShape& s)
      : blocks(filter_blocks(s)),
        data(std::make_unique<float[]>(static_cast<size_t>(blocks * s.C * 3 * kFilterBlock * 3 * kLanes))) {}
  int64_t blocks;
  std::unique_ptr<float[]> data;  // zero-initialized

  float* at(const ConvShape& s, int64_t kb, int64_t c, int64_t r) {
    return data.get() + ((kb * s.C + c) * 3 + r) * kFilterBlock * 3 * kLanes;
  }
};

// Adds `rows` output rows to one block's lane sums `sums` (4 channels x 3 taps x 8 lanes). in:
// the first row's padded x row (c, oh0 + r); d[i]: channel i's first dy row; rows follow at
// row_step (x) and OW (dy). The columns [full, OW) are one masked vector. Plain pointers and
// strides and full unrolling, as forward_block.
FER_AVX2 void filter_block(const float* __restrict in, int64_t row_step, const float* const (&d)[kFilterBlock],
                           int64_t rows, int64_t OW, float* __restrict sums) {
  __m256 acc[kFilterBlock][3];
#pragma GCC unroll 4
  for (int i = 0; i < kFilterBlock; ++i)
#pragma GCC unroll 3
    for (int q = 0; q < 3; ++q) acc[i][q] = _mm256_loadu_ps(sums + (i * 3 + q) * kLanes);
  const int64_t full = OW / kLanes * kLanes;
  const __m256i tail_mask = first_lanes(OW - full);
  const auto add = [&](const float* x, int64_t dy_offset, bool tail) FER_AVX2 {
    __m256 xv[3];
#pragma GCC unroll 3
    for (int q = 0; q < 3; ++q) xv[q] = _mm256_loadu_ps(x + q);
#pragma GCC unroll 4
    for (int i = 0; i < kFilterBlock; ++i) {
      const __m256 dv = tail ? _mm256_maskload_ps(d[i] + dy_offset, tail_mask) : _mm256_loadu_ps(d[i] + dy_offset);
#pragma GCC unroll 3
      for (int q = 0; q < 3; ++q) acc[i][q] = _mm256_fmadd_ps(dv, xv[q], acc[i][q]);
    }
  };
  for (int64_t row = 0; row < rows; ++row, in += row_step) {
    for (int64_t ow = 0; ow < full; ow += kLanes) add(in + ow, row * OW + ow, false);
    if (full < OW) add(in + full, row * OW + full, true);
  }
#pragma GCC unroll 4
  for (int i = 0; i < kFilterBlock; ++i)
#pragma GCC unroll 3
    for (int q = 0; q < 3; ++q) _mm256_storeu_ps(sums + (i * 3 + q) * kLanes, acc[i][q]);
}

// Adds one image to the lane sums, 8 output rows at a time. dy rows of channels past K read
// `zeros` (kRowsPerGroup * OW + 8 floats).
void filter_image(const ConvShape& s, const PaddedImage& p, const float* dy_image, const float* zeros,
                  LaneSums& sums) {
  for (int64_t oh0 = 0; oh0 < s.OH; oh0 += kRowsPerGroup) {
    const int64_t rows = std::min(s.OH - oh0, kRowsPerGroup);
    for (int64_t kb = 0; kb < sums.blocks; ++kb) {
      const float* d[kFilterBlock];
      for (int64_t i = 0; i < kFilterBlock; ++i) {
        const int64_t k = kb * kFilterBlock + i;
        d[i] = k < s.K ? dy_image + (k * s.OH + oh0) * s.OW : zeros;
      }
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t r = 0; r < 3; ++r) filter_block(p.row(c, oh0 + r), p.cols, d, rows, s.OW, sums.at(s, kb, c, r));
    }
  }
}

// dweight[k][c][r][q] (+)= the sum of its 8 lanes.
void add_lane_sums(const ConvShape& s, LaneSums& sums, bool overwrite, float* dweight) {
  for (int64_t kb = 0; kb < sums.blocks; ++kb)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t r = 0; r < 3; ++r) {
        const float* block = sums.at(s, kb, c, r);
        for (int64_t i = 0; i < kFilterBlock && kb * kFilterBlock + i < s.K; ++i)
          for (int64_t q = 0; q < 3; ++q) {
            const float* lanes = block + (i * 3 + q) * kLanes;
            float total = 0.0f;
            for (int64_t l = 0; l < kLanes; ++l) total += lanes[l];
            float& out = dweight[(((kb * kFilterBlock + i) * s.C + c) * 3 + r) * 3 + q];
            out = overwrite ? total : out + total;
          }
      }
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// Whether the images are split over OpenMP's threads.
bool split_images(const ConvShape& s) { return omp_get_max_threads() > 1 && !omp_in_parallel() && s.N > 1; }

}  // namespace

bool direct_applies(const ConvShape& s) {
  return s.R == 3 && s.S == 3 && s.stride == 1 && s.pad <= 2 && s.OH >= 1 && s.OW >= 1 && cpu_has_avx2_fma();
}

void conv2d_forward_direct(const ConvShape& s, const float* x, const float* weight, float* y) {
  const auto packed = pack_filters(s, weight);
#pragma omp parallel if (split_images(s))
  {
    PaddedImage padded(s);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.N; ++n) {
      fill_padded(s, x + n * s.C * s.H * s.W, padded);
      forward_image(s, padded, packed.get(), y + n * s.K * s.OH * s.OW);
    }
  }
}

void conv2d_backward_filter_direct(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  const auto zeros = std::make_unique<float[]>(static_cast<size_t>(kRowsPerGroup * s.OW + kLanes));
  const int64_t threads = split_images(s) ? std::min<int64_t>(omp_get_max_threads(), s.N) : 1;
  std::vector<std::unique_ptr<LaneSums>> partials(static_cast<size_t>(threads));
  int64_t team_size = 1;  // the runtime may give fewer threads than asked for
#pragma omp parallel num_threads(static_cast<int>(threads)) if (threads > 1)
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    if (t == 0) team_size = team;
    partials[static_cast<size_t>(t)] = std::make_unique<LaneSums>(s);
    PaddedImage padded(s);
    for (int64_t n = s.N * t / team; n < s.N * (t + 1) / team; ++n) {
      fill_padded(s, x + n * s.C * s.H * s.W, padded);
      filter_image(s, padded, dy + n * s.K * s.OH * s.OW, zeros.get(), *partials[static_cast<size_t>(t)]);
    }
  }
  for (int64_t t = 0; t < team_size; ++t) add_lane_sums(s, *partials[static_cast<size_t>(t)], t == 0, dweight);
}

#else  // not x86-64: never applies

bool direct_applies(const ConvShape&) { return false; }
void conv2d_forward_direct(const ConvShape&, const float*, const float*, float*) {}
void conv2d_backward_filter_direct(const ConvShape&, const float*, const float*, float*) {}

#endif

}  // namespace fer
