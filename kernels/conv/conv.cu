// Convolution kernels on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the simulator).
// Layouts and contracts: kernels/conv/conv.h (NCHW x and y, OIHW weight, cross-correlation);
// variant choice and the cuDNN entry points: kernels/conv/conv_cuda.h; derivations and results:
// docs/kernels.md "conv".
//
// v1, the naive port (readable reference): one thread per output element, direct loops.
//   forward:         y[n,k,oh,ow]  = b[k] + sum_{c,r,s} w[k,c,r,s] x[n,c,oh*st-pad+r,ow*st-pad+s]
//   backward-data:   dx[n,c,ih,iw] = sum_{k,r,s} w[k,c,r,s] dy[n,k,oh,ow] over the taps with
//                    oh*st = ih+pad-r, ow*st = iw+pad-s inside the output (a gather: no atomics)
//   backward-filter: dw[k,c,r,s]   = sum_{n,oh,ow} dy[n,k,oh,ow] x[n,c,ih,iw]
// v2, implicit GEMM: one shared-memory-tiled, register-blocked GEMM kernel (implicit_gemm_kernel_v2)
//   whose operands are read through "loaders" that do the im2col index math on the fly (nothing
//   is materialized). Block tile 64 (M) x 64 (N) x 16 (K), 128 threads, each an 8x4 micro-tile
//   of accumulators; shared tiles double-buffered: the global loads of tile t+1 are issued into
//   registers before the FMAs of tile t and stored to the other buffer after them, one barrier
//   per tile. Each loader walks its reduction index incrementally (no divisions in the loop).
//   forward:         M = N*OH*OW pixels, N = K filters, K = C*R*S. Bias fused in the store.
//   backward-data:   split into stride^2 phases by (ih+pad) mod stride, (iw+pad) mod stride: in a
//                    phase only the taps r = phase + stride*j reach a pixel, so the GEMM
//                    (M = the phase's pixels, N = C, K = K*ceil(R/st)*ceil(S/st)) multiplies no
//                    structural zeros (k4 s2: 4 taps of 16, not 16 with 12 skipped). The phases
//                    are one launch (blockIdx.z), so that small layers still fill the GPU.
//   backward-filter: M = K filters, N = C*R*S, K = N*OH*OW. When the grid of (M, N) tiles is too
//                    small to fill the GPU, split-K over the batch: each split writes its partial
//                    dw to a workspace, and a second kernel adds the splits in order
//                    (deterministic: no atomics).
// Speed against cuDNN per model layer, with its machine and command: docs/kernels.md "conv".
// Bias: add_channel_bias_kernel (transposed forward), channel_sums_kernel (dbias: one block per
// channel, a double block sum, deterministic). Shared by all variants, cuDNN's included.
// Transposed convolution: the duality of conv.h, calling the conv2d entry points (so it runs
// whichever variant is selected).
// Backward writes: dx, dweight, dbias overwritten (conv.h); a null dweight/dbias is skipped.
// Indices are 32-bit inside the kernels: the wrappers check that every tensor fits.
#include "kernels/runtime/cuda_api.h"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "kernels/common/cuda_reduce.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_cuda.h"
#include "kernels/runtime/kernel_choice.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

std::atomic<int> selected_variant{2};

// ConvShape in 32-bit ints, for the kernels' index math.
struct Dims {
  int N, C, H, W, K, R, S, stride, pad, OH, OW;
};

Dims to_dims(const ConvShape& s, const char* op) {
  const int64_t largest = std::max({s.N * s.C * s.H * s.W, s.N * s.K * s.OH * s.OW, s.K * s.C * s.R * s.S});
  FER_CHECK(largest < INT32_MAX) << op << ": x [" << s.N << ", " << s.C << ", " << s.H << ", " << s.W
                                 << "], weight [" << s.K << ", " << s.C << ", " << s.R << ", " << s.S
                                 << "], y [" << s.N << ", " << s.K << ", " << s.OH << ", " << s.OW
                                 << "]: a tensor has 2^31 or more elements (32-bit kernel indices)";
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  return {i(s.N), i(s.C), i(s.H), i(s.W), i(s.K), i(s.R), i(s.S), i(s.stride), i(s.pad), i(s.OH), i(s.OW)};
}

// ---- bias -----------------------------------------------------------------------------------

constexpr int kElementThreads = 256;

// y[n,c,:] += bias[c] over [N, channels, spatial]; one thread per element.
__global__ void add_channel_bias_kernel(int total, int channels, int spatial, const float* bias, float* y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total) y[i] += bias[i / spatial % channels];
}

// dbias[c] = sum of dy[n,c,:]; one block per channel, summed in double in a fixed order.
__global__ void __launch_bounds__(kReduceThreads)
    channel_sums_kernel(int batch, int channels, int spatial, const float* dy, float* dbias) {
  const int c = blockIdx.x;
  double sum = 0;
  for (int i = threadIdx.x; i < batch * spatial; i += blockDim.x)
    sum += dy[(i / spatial * channels + c) * spatial + i % spatial];
  sum = block_sum(sum);
  if (threadIdx.x == 0) dbias[c] = static_cast<float>(sum);
}

void add_channel_bias(int batch, int channels, int spatial, const float* bias, float* y) {
  if (!bias) return;
  const int total = batch * channels * spatial;
  launch_kernel(add_channel_bias_kernel, blocks_for(total, kElementThreads), kElementThreads, 0, total, channels,
                spatial, bias, y);
}

void channel_sums(int batch, int channels, int spatial, const float* dy, float* dbias) {
  if (!dbias) return;
  launch_kernel(channel_sums_kernel, static_cast<unsigned>(channels), kReduceThreads, 0, batch, channels, spatial,
                dy, dbias);
}

// ---- v1: one thread per output element --------------------------------------------------------

__global__ void conv2d_forward_kernel_v1(Dims d, const float* x, const float* w, const float* bias, float* y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d.N * d.K * d.OH * d.OW) return;
  const int ow = i % d.OW, oh = i / d.OW % d.OH, k = i / (d.OW * d.OH) % d.K, n = i / (d.OW * d.OH * d.K);
  float sum = 0;
  for (int c = 0; c < d.C; ++c)
    for (int r = 0; r < d.R; ++r)
      for (int s = 0; s < d.S; ++s) {
        const int ih = oh * d.stride - d.pad + r, iw = ow * d.stride - d.pad + s;
        if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
        sum += w[((k * d.C + c) * d.R + r) * d.S + s] * x[((n * d.C + c) * d.H + ih) * d.W + iw];
      }
  y[i] = sum + (bias ? bias[k] : 0.0f);
}

// The output coordinate o with o*stride + tap = i + pad, or -1 when there is none inside [0, out).
__device__ __forceinline__ int output_of_tap(int i, int tap, const Dims& d, int out) {
  const int scaled = i + d.pad - tap;
  if (scaled < 0 || scaled % d.stride != 0) return -1;
  const int o = scaled / d.stride;
  return o < out ? o : -1;
}

__global__ void conv2d_backward_data_kernel_v1(Dims d, const float* dy, const float* w, float* dx) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d.N * d.C * d.H * d.W) return;
  const int iw = i % d.W, ih = i / d.W % d.H, c = i / (d.W * d.H) % d.C, n = i / (d.W * d.H * d.C);
  float sum = 0;
  for (int k = 0; k < d.K; ++k)
    for (int r = 0; r < d.R; ++r) {
      const int oh = output_of_tap(ih, r, d, d.OH);
      if (oh < 0) continue;
      for (int s = 0; s < d.S; ++s) {
        const int ow = output_of_tap(iw, s, d, d.OW);
        if (ow < 0) continue;
        sum += w[((k * d.C + c) * d.R + r) * d.S + s] * dy[((n * d.K + k) * d.OH + oh) * d.OW + ow];
      }
    }
  dx[i] = sum;
}

__global__ void conv2d_backward_filter_kernel_v1(Dims d, const float* x, const float* dy, float* dw) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= d.K * d.C * d.R * d.S) return;
  const int s = i % d.S, r = i / d.S % d.R, c = i / (d.S * d.R) % d.C, k = i / (d.S * d.R * d.C);
  float sum = 0;
  for (int n = 0; n < d.N; ++n)
    for (int oh = 0; oh < d.OH; ++oh)
      for (int ow = 0; ow < d.OW; ++ow) {
        const int ih = oh * d.stride - d.pad + r, iw = ow * d.stride - d.pad + s;
        if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
        sum += dy[((n * d.K + k) * d.OH + oh) * d.OW + ow] * x[((n * d.C + c) * d.H + ih) * d.W + iw];
      }
  dw[i] = sum;
}

// ---- v2: implicit GEMM ------------------------------------------------------------------------
//
// C[m, n] = sum_k A[m, k] B[k, n], A and B read through loaders. A loader fills its 8 registers
// with the next 64 x 16 tile (one of two thread layouts below) and then moves on by 16 along K;
// it returns 0 outside the matrix. The Problem's store(m, n, value, split) writes one result.
// Layouts, as (row of the 16-deep tile, column in the 64-wide tile) of element i = 0..7:
//   column-fast (kColumnFast): (tid / 64 + 2 i, tid % 64): a thread keeps its column (its pixel,
//     filter or channel) and steps 2 along K; a warp reads 32 consecutive columns.
//   K-fast: (tid % 16, tid / 16 + 8 i): a thread keeps its K offset and takes 8 columns; a warp
//     reads 16 consecutive K of two columns (for operands contiguous along K).
constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 128;
constexpr int kMicroM = 8, kMicroN = 4;  // 8 x 16 threads of 8 x 4 accumulators cover 64 x 64
constexpr int kTilePad = 4;              // keeps rows 16-byte aligned; spreads K-fast stores over banks
constexpr int kLoadsPerThread = kTileM * kTileK / kGemmThreads;
static_assert(kTileM == kTileN && kLoadsPerThread == 8 && kTileM / kMicroM * (kTileN / kMicroN) == kGemmThreads);

using Tile = float[kTileK][kTileM + kTilePad];
struct alignas(16) GemmTiles {  // float4 reads need 16-byte aligned rows
  Tile a[2], b[2];
};

template <bool kColumnFast>
__device__ __forceinline__ void store_tile(Tile& tile, const float (&regs)[kLoadsPerThread], int tid) {
#pragma unroll
  for (int i = 0; i < kLoadsPerThread; ++i) {
    if (kColumnFast)
      tile[tid / kTileM + 2 * i][tid % kTileM] = regs[i];
    else
      tile[tid % kTileK][tid / kTileK + 8 * i] = regs[i];
  }
}

__device__ __forceinline__ void multiply_tile(const Tile& a, const Tile& b, int tm, int tn,
                                              float (&acc)[kMicroM][kMicroN]) {
#pragma unroll
  for (int k = 0; k < kTileK; ++k) {
    const float4 a0 = *reinterpret_cast<const float4*>(&a[k][tm * kMicroM]);
    const float4 a1 = *reinterpret_cast<const float4*>(&a[k][tm * kMicroM + 4]);
    const float4 b0 = *reinterpret_cast<const float4*>(&b[k][tn * kMicroN]);
    const float av[kMicroM] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
    const float bv[kMicroN] = {b0.x, b0.y, b0.z, b0.w};
#pragma unroll
    for (int i = 0; i < kMicroM; ++i)
#pragma unroll
      for (int j = 0; j < kMicroN; ++j) acc[i][j] += av[i] * bv[j];
  }
}

template <class Problem>
__global__ void __launch_bounds__(kGemmThreads) implicit_gemm_kernel_v2(Problem p) {
  FER_STATIC_SHARED(GemmTiles, shared);
  const int tid = threadIdx.x, split = blockIdx.z;
  const int m0 = blockIdx.x * kTileM, n0 = blockIdx.y * kTileN;
  const int rows = p.rows(split);
  if (m0 >= rows) return;  // the whole block: a split with fewer rows than the grid covers
  typename Problem::ALoader a_loader(p, m0, tid, split);
  typename Problem::BLoader b_loader(p, n0, tid, split);
  const int tiles = (p.reduction_length(split) + kTileK - 1) / kTileK;
  float a_regs[kLoadsPerThread], b_regs[kLoadsPerThread];
  float acc[kMicroM][kMicroN] = {};
  const int tm = tid / (kTileN / kMicroN), tn = tid % (kTileN / kMicroN);
  if (tiles > 0) {
    a_loader.load(a_regs);
    b_loader.load(b_regs);
    store_tile<Problem::ALoader::kColumnFast>(shared.a[0], a_regs, tid);
    store_tile<Problem::BLoader::kColumnFast>(shared.b[0], b_regs, tid);
    __syncthreads();
  }
  for (int t = 0; t < tiles; ++t) {
    const int current = t & 1;
    const bool more = t + 1 < tiles;
    if (more) {  // in flight while this tile is multiplied
      a_loader.load(a_regs);
      b_loader.load(b_regs);
    }
    multiply_tile(shared.a[current], shared.b[current], tm, tn, acc);
    if (more) {
      store_tile<Problem::ALoader::kColumnFast>(shared.a[current ^ 1], a_regs, tid);
      store_tile<Problem::BLoader::kColumnFast>(shared.b[current ^ 1], b_regs, tid);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kMicroM; ++i) {
    const int m = m0 + tm * kMicroM + i;
    if (m >= rows) break;
#pragma unroll
    for (int j = 0; j < kMicroN; ++j) {
      const int n = n0 + tn * kMicroN + j;
      if (n < p.columns()) p.store(m, n, acc[i][j], split);
    }
  }
}

// Advances (a, b, c) in mixed radix (b < nb, c < nc) by `step` along c.
__device__ __forceinline__ void advance(int& a, int& b, int& c, int nb, int nc, int step) {
  c += step;
  while (c >= nc) {
    c -= nc;
    if (++b == nb) {
      b = 0;
      ++a;
    }
  }
}

// Forward. A[m = (n, oh, ow), k = (c, r, s)] = x[n, c, oh*st-pad+r, ow*st-pad+s] (im2col);
// B[k, n = filter] = w[filter, k]; y[n, filter, oh, ow] = C + bias.
struct ForwardProblem {
  Dims d;
  const float *x, *w, *bias;
  float* y;

  __device__ int rows(int) const { return d.N * d.OH * d.OW; }
  __device__ int columns() const { return d.K; }
  __device__ int reduction_length(int) const { return d.C * d.R * d.S; }

  struct ALoader {  // column-fast: the thread's pixel is fixed, (c, r, s) walks
    static constexpr bool kColumnFast = true;
    const float* image;  // null outside the rows
    int ih0, iw0, c, r, s;
    const ForwardProblem& p;
    __device__ ALoader(const ForwardProblem& problem, int m0, int tid, int) : p(problem) {
      const Dims& d = p.d;
      const int m = m0 + tid % kTileM, ow = m % d.OW, oh = m / d.OW % d.OH, n = m / (d.OW * d.OH);
      image = m < p.rows(0) ? p.x + n * d.C * d.H * d.W : nullptr;
      ih0 = oh * d.stride - d.pad;
      iw0 = ow * d.stride - d.pad;
      c = 0, r = 0, s = tid / kTileM;
      advance(c, r, s, d.R, d.S, 0);
    }
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const Dims& d = p.d;
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int ih = ih0 + r, iw = iw0 + s;
        const bool inside = image && c < d.C && ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
        regs[i] = inside ? image[(c * d.H + ih) * d.W + iw] : 0.0f;
        advance(c, r, s, d.R, d.S, 2);
      }
    }
  };

  struct BLoader {  // K-fast: w rows are contiguous along k
    static constexpr bool kColumnFast = false;
    const float* w;
    int k, n0, tid_column;
    const ForwardProblem& p;
    __device__ BLoader(const ForwardProblem& problem, int n0_, int tid, int)
        : w(problem.w), k(tid % kTileK), n0(n0_), tid_column(tid / kTileK), p(problem) {}
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const int length = p.reduction_length(0);
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int n = n0 + tid_column + 8 * i;
        regs[i] = k < length && n < p.d.K ? w[n * length + k] : 0.0f;
      }
      k += kTileK;
    }
  };

  __device__ void store(int m, int filter, float value, int) const {
    const int spatial = d.OH * d.OW, n = m / spatial;
    y[(n * d.K + filter) * spatial + m % spatial] = value + (bias ? bias[filter] : 0.0f);
  }
};

// Backward-data by phases. Phase z = (ph, pw) = (z / st, z % st) holds the pixels with
// (ih+pad) % st == ph and (iw+pad) % st == pw, ih = first_h + st*th. Only the taps
// r = ph + st*jh, s = pw + st*jw reach them, from oh = th + offset_h - jh
// (offset_h = (first_h + pad - ph) / st >= 0). All phases run in one launch, phase = blockIdx.z.
struct Phase {
  int ph, pw;              // tap residues
  int first_h, first_w;    // the phase's first pixel row and column
  int rows_h, rows_w;      // its pixels per column and row
  int taps_h, taps_w;      // its taps per filter: ceil((R - ph) / st)
  int offset_h, offset_w;
};

__host__ __device__ inline Phase phase_of(const Dims& d, int phase) {
  const int st = d.stride;
  const auto first = [&](int residue) { return ((residue - d.pad) % st + st) % st; };
  const auto count = [&](int start, int size) { return start < size ? (size - start + st - 1) / st : 0; };
  Phase f{};
  f.ph = phase / st, f.pw = phase % st;
  f.first_h = first(f.ph), f.first_w = first(f.pw);
  f.rows_h = count(f.first_h, d.H), f.rows_w = count(f.first_w, d.W);
  f.taps_h = count(f.ph, d.R), f.taps_w = count(f.pw, d.S);
  f.offset_h = (f.first_h + d.pad - f.ph) / st, f.offset_w = (f.first_w + d.pad - f.pw) / st;
  return f;
}

// A[m = (n, th, tw), k = (filter, jh, jw)] = dy[n, filter, oh, ow] (0 outside);
// B[k, n = c] = w[filter, c, ph + st*jh, pw + st*jw]; dx[n, c, ih, iw] = C. A phase without
// taps (R < st) has an empty reduction and writes zeros.
struct BackwardDataProblem {
  Dims d;
  const float *dy, *w;
  float* dx;

  __device__ int rows(int phase) const {
    const Phase f = phase_of(d, phase);
    return d.N * f.rows_h * f.rows_w;
  }
  __device__ int columns() const { return d.C; }
  __device__ int reduction_length(int phase) const {
    const Phase f = phase_of(d, phase);
    return d.K * f.taps_h * f.taps_w;
  }

  struct ALoader {  // column-fast: the thread's pixel is fixed, (filter, jh, jw) walks
    static constexpr bool kColumnFast = true;
    const float* image;  // null outside the rows
    int oh0, ow0, filter, jh, jw;
    Phase f;
    const BackwardDataProblem& p;
    __device__ ALoader(const BackwardDataProblem& problem, int m0, int tid, int phase)
        : f(phase_of(problem.d, phase)), p(problem) {
      const int m = m0 + tid % kTileM, tw = m % f.rows_w, th = m / f.rows_w % f.rows_h;
      const int n = m / (f.rows_w * f.rows_h);
      image = m < p.d.N * f.rows_h * f.rows_w ? p.dy + n * p.d.K * p.d.OH * p.d.OW : nullptr;
      oh0 = th + f.offset_h;
      ow0 = tw + f.offset_w;
      filter = 0, jh = 0, jw = 0;
      if (f.taps_h * f.taps_w > 0) advance(filter, jh, jw, f.taps_h, f.taps_w, tid / kTileM);
    }
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const Dims& d = p.d;
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int oh = oh0 - jh, ow = ow0 - jw;
        const bool inside = image && filter < d.K && oh >= 0 && oh < d.OH && ow >= 0 && ow < d.OW;
        regs[i] = inside ? image[(filter * d.OH + oh) * d.OW + ow] : 0.0f;
        advance(filter, jh, jw, f.taps_h, f.taps_w, 2);
      }
    }
  };

  struct BLoader {  // column-fast: the thread's channel is fixed, (filter, jh, jw) walks
    static constexpr bool kColumnFast = true;
    int c, filter, jh, jw;
    Phase f;
    const BackwardDataProblem& p;
    __device__ BLoader(const BackwardDataProblem& problem, int n0, int tid, int phase)
        : c(n0 + tid % kTileN), filter(0), jh(0), jw(0), f(phase_of(problem.d, phase)), p(problem) {
      if (f.taps_h * f.taps_w > 0) advance(filter, jh, jw, f.taps_h, f.taps_w, tid / kTileN);
    }
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const Dims& d = p.d;
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int r = f.ph + d.stride * jh, s = f.pw + d.stride * jw;
        regs[i] = filter < d.K && c < d.C ? p.w[((filter * d.C + c) * d.R + r) * d.S + s] : 0.0f;
        advance(filter, jh, jw, f.taps_h, f.taps_w, 2);
      }
    }
  };

  __device__ void store(int m, int c, float value, int phase) const {
    const Phase f = phase_of(d, phase);
    const int tw = m % f.rows_w, th = m / f.rows_w % f.rows_h, n = m / (f.rows_w * f.rows_h);
    dx[((n * d.C + c) * d.H + f.first_h + d.stride * th) * d.W + f.first_w + d.stride * tw] = value;
  }
};

// Backward-filter over the images [split * images_per_split, ...) of the batch.
// A[m = filter, k = (n, q)] = dy[n, filter, q] (q = oh*OW + ow); B[k, column = (c, r, s)] =
// x[n, c, oh*st-pad+r, ow*st-pad+s]; out[split][filter, column] = C (out = dw when one split).
struct BackwardFilterProblem {
  Dims d;
  const float *x, *dy;
  float* out;
  int images_per_split;

  __device__ int rows(int) const { return d.K; }
  __device__ int columns() const { return d.C * d.R * d.S; }
  __device__ int first_image(int split) const { return split * images_per_split; }
  __device__ int end_image(int split) const { return min(d.N, (split + 1) * images_per_split); }
  __device__ int reduction_length(int split) const {
    return (end_image(split) - first_image(split)) * d.OH * d.OW;
  }

  struct ALoader {  // K-fast: dy planes are contiguous along q
    static constexpr bool kColumnFast = false;
    int n, q, end, m_first;
    const BackwardFilterProblem& p;
    __device__ ALoader(const BackwardFilterProblem& problem, int m0, int tid, int split)
        : n(problem.first_image(split)), q(tid % kTileK), end(problem.end_image(split)),
          m_first(m0 + tid / kTileK), p(problem) {
      int unused = 0;
      advance(unused, n, q, INT32_MAX, p.d.OH * p.d.OW, 0);
    }
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const Dims& d = p.d;
      const int spatial = d.OH * d.OW;
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int filter = m_first + 8 * i;
        regs[i] = n < end && filter < d.K ? p.dy[(n * d.K + filter) * spatial + q] : 0.0f;
      }
      int unused = 0;
      advance(unused, n, q, INT32_MAX, spatial, kTileK);
    }
  };

  struct BLoader {  // column-fast: the thread's (c, r, s) is fixed, (n, oh, ow) walks
    static constexpr bool kColumnFast = true;
    int c, r, s, n, oh, ow, end;
    bool column_inside;
    const BackwardFilterProblem& p;
    __device__ BLoader(const BackwardFilterProblem& problem, int n0, int tid, int split) : p(problem) {
      const Dims& d = p.d;
      const int column = n0 + tid % kTileN;
      column_inside = column < p.columns();
      s = column % d.S, r = column / d.S % d.R, c = column / (d.S * d.R);
      n = p.first_image(split), oh = 0, ow = tid / kTileN;
      end = p.end_image(split);
      advance(n, oh, ow, d.OH, d.OW, 0);
    }
    __device__ void load(float (&regs)[kLoadsPerThread]) {
      const Dims& d = p.d;
#pragma unroll
      for (int i = 0; i < kLoadsPerThread; ++i) {
        const int ih = oh * d.stride - d.pad + r, iw = ow * d.stride - d.pad + s;
        const bool inside = column_inside && n < end && ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
        regs[i] = inside ? p.x[((n * d.C + c) * d.H + ih) * d.W + iw] : 0.0f;
        advance(n, oh, ow, d.OH, d.OW, 2);
      }
    }
  };

  __device__ void store(int filter, int column, float value, int split) const {
    out[(split * d.K + filter) * columns() + column] = value;
  }
};

// dw[i] = sum over the splits, in order, of partials[split][i].
__global__ void sum_splits_kernel(int splits, int count, const float* partials, float* dw) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float sum = 0;
  for (int split = 0; split < splits; ++split) sum += partials[split * count + i];
  dw[i] = sum;
}

template <class Problem>
void launch_gemm_v2(const Problem& problem, int rows, int columns, int splits) {
  const dim3 grid(blocks_for(rows, kTileM), blocks_for(columns, kTileN), static_cast<unsigned>(splits));
  launch_kernel(implicit_gemm_kernel_v2<Problem>, grid, kGemmThreads, 0, problem);
}

void forward_v2(const Dims& d, const float* x, const float* w, const float* bias, float* y) {
  launch_gemm_v2(ForwardProblem{d, x, w, bias, y}, d.N * d.OH * d.OW, d.K, 1);
}

// One launch for all phases (blockIdx.z); together they cover every pixel of dx once. The grid
// covers the largest phase; the blocks past a smaller phase's pixels return at once.
void backward_data_v2(const Dims& d, const float* dy, const float* w, float* dx) {
  const int phases = d.stride * d.stride;
  int rows = 0;
  for (int phase = 0; phase < phases; ++phase) {
    const Phase f = phase_of(d, phase);
    rows = std::max(rows, d.N * f.rows_h * f.rows_w);
  }
  launch_gemm_v2(BackwardDataProblem{d, dy, w, dx}, rows, d.C, phases);
}

// Splits of the batch for the filter gradient: enough blocks for ~2 waves on the device's SMs,
// with at least 256 reduction steps per split.
int filter_gradient_splits(const Dims& d) {
  const int wanted_blocks = 2 * multiprocessor_count();
  const int tiles = static_cast<int>(blocks_for(d.K, kTileM) * blocks_for(d.C * d.R * d.S, kTileN));
  const int by_grid = std::max(1, wanted_blocks / tiles);
  const int by_work = std::max(1, d.N * d.OH * d.OW / 256);
  const int wanted = std::min({d.N, by_grid, by_work});
  const int images_per_split = (d.N + wanted - 1) / wanted;
  return (d.N + images_per_split - 1) / images_per_split;  // no empty split
}

void backward_filter_v2(const Dims& d, const float* x, const float* dy, float* dw) {
  const int splits = filter_gradient_splits(d);
  const int images_per_split = (d.N + splits - 1) / splits;
  const int columns = d.C * d.R * d.S, count = d.K * columns;
  if (splits == 1) {
    launch_gemm_v2(BackwardFilterProblem{d, x, dy, dw, images_per_split}, d.K, columns, 1);
    return;
  }
  DeviceBuffer<float> partials(static_cast<int64_t>(splits) * count);
  launch_gemm_v2(BackwardFilterProblem{d, x, dy, partials.get(), images_per_split}, d.K, columns, splits);
  launch_kernel(sum_splits_kernel, blocks_for(count, kElementThreads), kElementThreads, 0, splits, count,
                partials.get(), dw);
}

// ---- variant selection ------------------------------------------------------------------------

#ifndef FER_CUDA_SIM  // the simulator refuses the vendor choice (set_kernel_choice)
bool use_vendor() { return kernel_choice("conv") == KernelChoice::Vendor; }
#endif

}  // namespace

void set_conv_variant(int variant) {
  FER_CHECK(variant == 1 || variant == 2) << "set_conv_variant: variant " << variant << " (the conv kernels have 1, 2)";
  selected_variant.store(variant);
}

int conv_variant() { return selected_variant.load(); }

void conv2d_forward_cuda(const ConvShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const Dims d = to_dims(s, "conv2d_forward");
#ifndef FER_CUDA_SIM
  if (use_vendor()) {
    conv2d_forward_vendor(s, x, weight, y);
    add_channel_bias(d.N, d.K, d.OH * d.OW, bias, y);
    return;
  }
#endif
  if (selected_variant.load() == 1) {
    launch_kernel(conv2d_forward_kernel_v1, blocks_for(s.N * s.K * s.OH * s.OW, kElementThreads), kElementThreads, 0,
                  d, x, weight, bias, y);
  } else {
    forward_v2(d, x, weight, bias, y);
  }
}

void conv2d_backward_data_cuda(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  const Dims d = to_dims(s, "conv2d_backward_data");
#ifndef FER_CUDA_SIM
  if (use_vendor()) {
    conv2d_backward_data_vendor(s, dy, weight, dx);
    return;
  }
#endif
  if (selected_variant.load() == 1) {
    launch_kernel(conv2d_backward_data_kernel_v1, blocks_for(s.N * s.C * s.H * s.W, kElementThreads),
                  kElementThreads, 0, d, dy, weight, dx);
  } else {
    backward_data_v2(d, dy, weight, dx);
  }
}

void conv2d_backward_filter_cuda(const ConvShape& s, const float* x, const float* dy, float* dweight, float* dbias) {
  const Dims d = to_dims(s, "conv2d_backward_filter");
  channel_sums(d.N, d.K, d.OH * d.OW, dy, dbias);
  if (!dweight) return;
#ifndef FER_CUDA_SIM
  if (use_vendor()) {
    conv2d_backward_filter_vendor(s, x, dy, dweight);
    return;
  }
#endif
  if (selected_variant.load() == 1) {
    launch_kernel(conv2d_backward_filter_kernel_v1, blocks_for(s.K * s.C * s.R * s.S, kElementThreads),
                  kElementThreads, 0, d, x, dy, dweight);
  } else {
    backward_filter_v2(d, x, dy, dweight);
  }
}

// Transposed convolution: the duality of conv.h.
void conv_transpose2d_forward_cuda(const ConvShape& s, const float* x, const float* weight, const float* bias,
                                   float* y) {
  const Dims d = to_dims(s, "conv_transpose2d_forward");
  conv2d_backward_data_cuda(s, x, weight, y);
  add_channel_bias(d.N, d.C, d.H * d.W, bias, y);
}

void conv_transpose2d_backward_data_cuda(const ConvShape& s, const float* dy, const float* weight, float* dx) {
  conv2d_forward_cuda(s, dy, weight, nullptr, dx);
}

void conv_transpose2d_backward_filter_cuda(const ConvShape& s, const float* x, const float* dy, float* dweight,
                                           float* dbias) {
  const Dims d = to_dims(s, "conv_transpose2d_backward_filter");
  if (dweight) conv2d_backward_filter_cuda(s, dy, x, dweight, nullptr);
  channel_sums(d.N, d.C, d.H * d.W, dy, dbias);
}

}  // namespace fer::FER_CUDA_NS
