// The optimized CPU convolution: im2col / col2im + OpenBLAS SGEMM, and the choice of the
// Winograd and phase-plane algorithms (conv_winograd.h) and of the direct AVX2 3x3 kernels
// (conv_direct.h) where they are faster.
//
// Images are processed in chunks of nb images. A chunk's column buffer is
//   col [C*R*S, nb*OH*OW]: row (c, r, q), column (j, oh, ow) = x[n0+j, c, oh*st-pad+r, ow*st-pad+q]
// so that ONE GEMM covers the chunk: y_chunk [K, nb*OH*OW] = W [K, C*R*S] * col. Chunks give the
// late layers (8x8, 4x4 outputs) wide GEMMs instead of 64- or 16-column ones, and the filter
// gradient of the first layer (C*R*S = 16 rows) long reductions instead of many tiny GEMMs
// (images_per_chunk says how many images a chunk takes). The chunk's output layout [K, nb, OH*OW]
// differs from NCHW [nb, K, OH*OW] only when nb > 1; then one copy of OH*OW-long runs converts it
// (cheap next to a GEMM with C*R*S-long dot products).
//   forward:         col = im2col(x);  y = W col;  Winograd for 3x3 stride 1, phase planes for 4x4
//                    stride 2 (where conv_winograd.h says they apply), the direct kernels for
//                    the other 3x3 stride-1 ones (below Winograd's C * K)
//   backward-data:   col = W^T dy;     dx = col2im(col)      (overwrites dx); stride 1 with C >= K
//                    (or where its adjoint is a Winograd forward): the forward of dy with the
//                    flipped, transposed filters (backward_data_as_forward); 4x4 stride 2: the
//                    phase planes' backward-data
//   backward-filter: col = im2col(x);  dW (+)= dy col^T over the chunks (overwrites dW overall);
//                    one product per image when an image has >= kLongReduction output positions;
//                    Winograd, phase planes and direct kernels where the forward takes them
// Threads: SGEMM runs on OpenBLAS's threads, and im2col (over rows) and col2im (over image
// planes) on OpenMP's. Two exceptions, for layers whose products are too narrow for that split:
// a forward with at least 4 chunks per thread gives each thread whole chunks (its own scratch,
// im2col and a one-thread SGEMM), and a filter gradient of at most 64 Ki elements is summed from
// one partial per thread over slices of the batch (chunks_per_thread, small_filter_per_thread).
// CMake links OpenBLAS's OpenMP build, so both share one libgomp pool; with the pthreads build,
// OpenMP workers spin-waiting after a loop starved the next GEMM's threads (measured on 2 cores:
// convolutions 3-8x slower).
// Vectorization: the innermost loops of im2col/col2im step through a row with the convolution's
// stride; with_static_stride makes strides 1 and 2 compile-time constants so that they become
// plain (vectorized) copies and adds instead of scalar index arithmetic.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <type_traits>

#include <omp.h>

#include "kernels/conv/conv.h"
#include "kernels/conv/conv_direct.h"
#include "kernels/conv/conv_winograd.h"
#include "kernels/elementwise/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fer {

namespace {

// The column budget of a chunk: 4 Mi floats (16 MiB), exceeded only when one image needs more.
constexpr int64_t kMaxColumnFloats = int64_t(1) << 22;
// Forward and backward-data chunks stop growing at this many columns, where SGEMM is near its
// peak: beyond one image a chunk costs a layout copy of y or dy, a pass that counts in the
// memory-bound first layer (16 rows).
constexpr int64_t kWideColumns = 2048;

// From this many output positions per image on, the filter gradient's per-image products reduce
// over enough columns to run near SGEMM's peak, and dy needs no copy into the chunk's layout
// (measured: the first layer's dW 1.5x faster; 4x4 outputs 1.7x slower).
constexpr int64_t kLongReduction = 256;

// The filter gradient takes as many images as the budget allows: its GEMM reduces over the
// columns, and the first layer's dW [64, 16] is otherwise many tiny GEMMs.
int64_t images_per_chunk(const ConvShape& s, bool filter_gradient) {
  const int64_t spatial = std::max<int64_t>(1, s.OH * s.OW);
  const int64_t affordable = kMaxColumnFloats / std::max<int64_t>(1, s.C * s.R * s.S * spatial);
  const int64_t wanted = filter_gradient ? affordable : std::min(affordable, (kWideColumns + spatial - 1) / spatial);
  return std::clamp<int64_t>(wanted, 1, std::max<int64_t>(1, s.N));
}

// The outputs o in [lo, hi) whose input o*stride + offset lies inside [0, in).
struct Range {
  int64_t lo, hi;
};
Range valid_outputs(int64_t out, int64_t in, int64_t offset, int64_t stride) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  const int64_t clamped_hi = std::min(hi, out);
  return {std::min(lo, clamped_hi), clamped_hi};
}

// Calls body(stride) with the strides of the default models (1, 2) as compile-time constants.
template <typename Body>
void with_static_stride(int64_t stride, Body&& body) {
  switch (stride) {
    case 1: return body(std::integral_constant<int64_t, 1>{});
    case 2: return body(std::integral_constant<int64_t, 2>{});
    default: return body(stride);
  }
}

// Fills col (layout above) for the nb images starting at x.
void im2col(const ConvShape& s, const float* x, int64_t nb, float* col) {
  const int64_t rows = s.C * s.R * s.S, spatial = s.OH * s.OW, cols = nb * spatial;
  with_static_stride(s.stride, [&](auto stride) {
#pragma omp parallel for schedule(static) if (worth_threads(rows * cols))
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t c = row / (s.R * s.S), r = row / s.S % s.R, q = row % s.S;
      const Range w_range = valid_outputs(s.OW, s.W, q - s.pad, stride);
      for (int64_t j = 0; j < nb; ++j) {
        const float* plane = x + (j * s.C + c) * s.H * s.W;
        float* out = col + row * cols + j * spatial;
        for (int64_t oh = 0; oh < s.OH; ++oh, out += s.OW) {
          const int64_t ih = oh * stride - s.pad + r;
          if (ih < 0 || ih >= s.H) {
            std::fill(out, out + s.OW, 0.0f);
            continue;
          }
          const float* in = plane + ih * s.W;
          const int64_t shift = q - s.pad;  // output column ow reads input column ow * stride + shift
          std::fill(out, out + w_range.lo, 0.0f);
          for (int64_t ow = w_range.lo; ow < w_range.hi; ++ow) out[ow] = in[ow * stride + shift];
          std::fill(out + w_range.hi, out + s.OW, 0.0f);
        }
      }
    }
  });
}

// Overwrites the nb images starting at dx with the sums of their column entries (plane by plane,
// so that the additions stay within one cache-resident plane). The planes go channel by channel,
// image by image within a channel: the column rows of channel c are then read front to back.
// (Image by image, the reads jumped R*S rows per plane; on 8x8 planes every read was a new
// 4 KiB page, and col2im took 28% of D_img's backward-data.)
void col2im(const ConvShape& s, const float* col, int64_t nb, float* dx) {
  const int64_t spatial = s.OH * s.OW, cols = nb * spatial;
  with_static_stride(s.stride, [&](auto stride) {
#pragma omp parallel for schedule(static) if (worth_threads(s.C * s.R * s.S * cols))
    for (int64_t p = 0; p < nb * s.C; ++p) {
      const int64_t c = p / nb, j = p % nb;
      float* plane = dx + (j * s.C + c) * s.H * s.W;
      std::fill(plane, plane + s.H * s.W, 0.0f);
      for (int64_t r = 0; r < s.R; ++r)
        for (int64_t q = 0; q < s.S; ++q) {
          const Range w_range = valid_outputs(s.OW, s.W, q - s.pad, stride);
          const float* in = col + ((c * s.R + r) * s.S + q) * cols + j * spatial;
          for (int64_t oh = 0; oh < s.OH; ++oh, in += s.OW) {
            const int64_t ih = oh * stride - s.pad + r;
            if (ih < 0 || ih >= s.H) continue;
            float* out = plane + ih * s.W;
            const int64_t shift = q - s.pad;  // output column ow adds to input column ow * stride + shift
            for (int64_t ow = w_range.lo; ow < w_range.hi; ++ow) out[ow * stride + shift] += in[ow];
          }
        }
    }
  });
}

// [K, nb, spatial] (a chunk's GEMM layout) -> [nb, K, spatial] (NCHW), and back.
void chunk_to_nchw(int64_t K, int64_t nb, int64_t spatial, const float* chunk, float* nchw) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < nb; ++j)
      std::memcpy(nchw + (j * K + k) * spatial, chunk + (k * nb + j) * spatial, spatial * sizeof(float));
}
void nchw_to_chunk(int64_t K, int64_t nb, int64_t spatial, const float* nchw, float* chunk) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < nb; ++j)
      std::memcpy(chunk + (k * nb + j) * spatial, nchw + (j * K + k) * spatial, spatial * sizeof(float));
}

// Scratch buffers of one call, sized for the largest chunk; not zeroed (every use overwrites).
struct ConvScratch {
  ConvScratch(const ConvShape& s, bool filter_gradient)
      : images(images_per_chunk(s, filter_gradient)),
        col(std::make_unique_for_overwrite<float[]>(static_cast<size_t>(s.C * s.R * s.S * images * s.OH * s.OW))),
        chunk(images > 1 ? std::make_unique_for_overwrite<float[]>(static_cast<size_t>(s.K * images * s.OH * s.OW))
                         : nullptr) {}
  int64_t images;
  std::unique_ptr<float[]> col;
  std::unique_ptr<float[]> chunk;  // a chunk of y or dy in GEMM layout; unused when images == 1
};

// dy of the nb images at dy_nchw in the chunk's GEMM layout (itself when nb == 1: no copy).
const float* dy_as_chunk(const ConvShape& s, const float* dy_nchw, int64_t nb, ConvScratch& scratch) {
  if (nb == 1) return dy_nchw;
  nchw_to_chunk(s.K, nb, s.OH * s.OW, dy_nchw, scratch.chunk.get());
  return scratch.chunk.get();
}

}  // namespace

namespace {

// Whether a call's chunks go to the threads whole (each thread one chunk at a time, with its own
// scratch; im2col and SGEMM inside it run on that thread) instead of splitting each chunk's
// im2col and SGEMM over the threads. Taken with at least 4 chunks per thread: the layers with
// large planes and few channels (the recognizer's 32 -> 32 at 64x64, the C = 1 first layers),
// whose per-image products are too small for OpenBLAS's split (measured at 2 threads, stage-2
// step: the 64x64 layer's forward 1.17x and the encoder's first forward 2.5x SLOWER than at 1).
bool chunks_per_thread(int64_t chunks) {
  const int threads = omp_get_max_threads();
  return threads > 1 && !omp_in_parallel() && chunks >= 4 * threads;
}

void forward_chunk(const ConvShape& s, const float* x, const float* weight, float* y, int64_t n0,
                   ConvScratch& scratch) {
  const int64_t rows = s.C * s.R * s.S, spatial = s.OH * s.OW;
  const int64_t nb = std::min(scratch.images, s.N - n0);
  float* y0 = y + n0 * s.K * spatial;
  float* out = nb == 1 ? y0 : scratch.chunk.get();
  im2col(s, x + n0 * s.C * s.H * s.W, nb, scratch.col.get());
  gemm_cpu(false, false, s.K, nb * spatial, rows, 1.0f, weight, rows, scratch.col.get(), nb * spatial, 0.0f, out,
           nb * spatial);
  if (nb > 1) chunk_to_nchw(s.K, nb, spatial, out, y0);
}

void forward_by_im2col(const ConvShape& s, const float* x, const float* weight, float* y) {
  const int64_t images = images_per_chunk(s, false), chunks = (s.N + images - 1) / images;
#pragma omp parallel if (chunks_per_thread(chunks))
  {
    ConvScratch scratch(s, false);
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) forward_chunk(s, x, weight, y, chunk * images, scratch);
  }
}

std::atomic<ConvCpuAlgorithm> g_algorithm{ConvCpuAlgorithm::Auto};

// Whether Winograd and the phase planes may be taken where they apply.
bool fast_algorithms() { return g_algorithm.load() == ConvCpuAlgorithm::Auto; }

}  // namespace

void set_conv_cpu_algorithm(ConvCpuAlgorithm algorithm) { g_algorithm.store(algorithm); }
ConvCpuAlgorithm conv_cpu_algorithm() { return g_algorithm.load(); }

void conv2d_forward_cpu(const ConvShape& s, const float* x, const float* weight, const float* bias,
                        float* y) {
  const bool fast = fast_algorithms();
  if (fast && winograd_applies(s))
    conv2d_forward_winograd(s, x, weight, y);
  else if (fast && direct_applies(s))
    conv2d_forward_direct(s, x, weight, y);
  else if (fast && polyphase_applies(s))
    conv2d_forward_polyphase(s, x, weight, y);
  else
    forward_by_im2col(s, x, weight, y);
  add_channel_bias(s.N, s.K, s.OH * s.OW, bias, y);
}

namespace {

// A stride-1 convolution's backward-data is itself a stride-1 convolution: of dy, padded by
// R-1-pad, with the filters flipped in space and transposed to [C, K, R, S]. As a forward it costs
// im2col (a copy) and a GEMM reducing over K*R*S, instead of a GEMM reducing over only K that
// writes a C*R*S-row column buffer which col2im then sums. Measured on the recognizer's layers
// (bench kernels, 1 thread): 1.1-1.45x faster where C >= K, as fast to 1.5x slower where C = K/2,
// and 5x slower for C = 1 (a one-row GEMM); hence the C >= K > 1 rule. Where the adjoint can run
// as Winograd (3x3, C * K >= 2048) it is as fast or faster for C = K/2 too (1.0-1.4x).
ConvShape backward_data_adjoint(const ConvShape& s) {
  return conv_shape(s.N, s.K, s.OH, s.OW, s.C, s.R, s.S, 1, s.R - 1 - s.pad);
}

bool backward_data_as_forward(const ConvShape& s) {
  if (s.stride != 1 || s.R != s.S || s.pad > s.R - 1) return false;
  return (s.C >= s.K && s.C > 1) ||
         (fast_algorithms() && winograd_applies(backward_data_adjoint(s)));
}

void backward_data_by_forward(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  const int64_t taps = s.R * s.S;
  const auto flipped = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(s.C * s.K * taps));
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t t = 0; t < taps; ++t) flipped[(c * s.K + k) * taps + taps - 1 - t] = weight[(k * s.C + c) * taps + t];
  conv2d_forward_cpu(backward_data_adjoint(s), dy, flipped.get(), nullptr, dx);
}

}  // namespace

void conv2d_backward_data_cpu(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  if (backward_data_as_forward(s)) return backward_data_by_forward(s, dy, weight, dx);
  if (fast_algorithms() && polyphase_backward_data_applies(s))
    return conv2d_backward_data_polyphase(s, dy, weight, dx);
  const int64_t rows = s.C * s.R * s.S, spatial = s.OH * s.OW;
  ConvScratch scratch(s, false);
  for (int64_t n0 = 0; n0 < s.N; n0 += scratch.images) {
    const int64_t nb = std::min(scratch.images, s.N - n0);
    const float* dy_chunk = dy_as_chunk(s, dy + n0 * s.K * spatial, nb, scratch);
    gemm_cpu(true, false, rows, nb * spatial, s.K, 1.0f, weight, rows, dy_chunk, nb * spatial, 0.0f,
             scratch.col.get(), nb * spatial);
    col2im(s, scratch.col.get(), nb, dx + n0 * s.C * s.H * s.W);
  }
}

namespace {

// dW over the N images of s (overwritten), im2col chunk by chunk.
void filter_gradient_by_im2col(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  const int64_t rows = s.C * s.R * s.S, spatial = s.OH * s.OW;
  ConvScratch scratch(s, true);
  for (int64_t n0 = 0; n0 < s.N; n0 += scratch.images) {
    const int64_t nb = std::min(scratch.images, s.N - n0);
    im2col(s, x + n0 * s.C * s.H * s.W, nb, scratch.col.get());
    // The first product overwrites dW, the others add to it.
    if (spatial >= kLongReduction) {  // one product per image: dy is used in place
      for (int64_t j = 0; j < nb; ++j)
        gemm_cpu(false, true, s.K, rows, spatial, 1.0f, dy + (n0 + j) * s.K * spatial, spatial,
                 scratch.col.get() + j * spatial, nb * spatial, n0 + j == 0 ? 0.0f : 1.0f, dweight, rows);
    } else {  // one product per chunk, on a copy of dy in the chunk's layout
      const float* dy_chunk = dy_as_chunk(s, dy + n0 * s.K * spatial, nb, scratch);
      gemm_cpu(false, true, s.K, rows, nb * spatial, 1.0f, dy_chunk, nb * spatial, scratch.col.get(), nb * spatial,
               n0 == 0 ? 0.0f : 1.0f, dweight, rows);
    }
  }
}

// Filter gradients of at most this many elements are summed from one partial per thread, each
// over a slice of the batch: their products (K rows, C*R*S columns, a reduction over the images'
// positions) are too narrow for OpenBLAS to split (measured at 2 threads, stage-2 step: the
// recognizer's first layer, dW [32, 9], 1.8x SLOWER than at 1 thread, before the direct kernels
// took it; the encoder's first layer, dW [64, 16], is one), and the partials are small.
constexpr int64_t kPerThreadFilterElements = int64_t(1) << 16;

bool small_filter_per_thread(const ConvShape& s) {
  const int threads = omp_get_max_threads();
  return threads > 1 && !omp_in_parallel() && s.N >= 2 * threads && s.K * s.C * s.R * s.S <= kPerThreadFilterElements;
}

// Thread t takes images [N*t/T, N*(t+1)/T) into its own partial; the partials are then added in
// thread order (the same sum for the same thread count).
void filter_gradient_per_thread(const ConvShape& s, const float* x, const float* dy, float* dweight) {
  const int64_t elements = s.K * s.C * s.R * s.S, threads = omp_get_max_threads();
  const auto partials = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(threads * elements));
  int64_t team_size = 1;  // the runtime may give fewer threads than asked for
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    if (t == 0) team_size = team;
    const int64_t n0 = s.N * t / team, n1 = s.N * (t + 1) / team;
    ConvShape slice = s;
    slice.N = n1 - n0;  // >= 2: N >= 2 * threads (small_filter_per_thread)
    filter_gradient_by_im2col(slice, x + n0 * s.C * s.H * s.W, dy + n0 * s.K * s.OH * s.OW,
                              partials.get() + t * elements);
  }
  std::copy(partials.get(), partials.get() + elements, dweight);
  for (int64_t t = 1; t < team_size; ++t)
    for (int64_t i = 0; i < elements; ++i) dweight[i] += partials[t * elements + i];
}

}  // namespace

void conv2d_backward_filter_cpu(const ConvShape& s, const float* x, const float* dy, float* dweight,
                                float* dbias) {
  const bool fast = fast_algorithms();
  if (dweight && fast && winograd_applies(s)) {
    conv2d_backward_filter_winograd(s, x, dy, dweight);
  } else if (dweight && fast && direct_applies(s)) {
    conv2d_backward_filter_direct(s, x, dy, dweight);
  } else if (dweight && fast && polyphase_filter_gradient_applies(s)) {
    conv2d_backward_filter_polyphase(s, x, dy, dweight);
  } else if (dweight && small_filter_per_thread(s)) {
    filter_gradient_per_thread(s, x, dy, dweight);
  } else if (dweight) {
    filter_gradient_by_im2col(s, x, dy, dweight);
  }
  channel_sums(s.N, s.K, s.OH * s.OW, dy, dbias);
}

}  // namespace fer
