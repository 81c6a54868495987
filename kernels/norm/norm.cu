// Normalization kernels on the GPU: batch norm, instance norm, spectral normalization (both
// builds: fer::cuda by nvcc, fer::cudasim on the simulator). Layout and contracts: norm.h;
// variant choice and the cuDNN entry points: norm_variants.h; derivations: docs/kernels.md "norm".
//
// A "group" is the set of elements normalized with one mean/invstd: a channel for batch norm
// (batch runs of `spatial` elements), a plane (n, c) for instance norm (one run).
//
// v1, the naive port (readable): one thread per group computes the statistics two-pass (mean,
//   then squared deviations) in double, as the CPU reference does, and the backward's two sums
//   (sum dy, sum dy * x_hat); one thread per element normalizes / writes dx.
// v2, tuned:
//   batch norm: a two-level reduction over a grid of (channel, batch slice) blocks, so that even
//     64 channels fill the GPU. Statistics are shifted sums in double, sum (x - K) and
//     sum (x - K)^2 with K = the channel's first element: one read of x, and no cancellation
//     worth a float as long as K lies within a few standard deviations of the mean (a sample of
//     the channel does). Each block reduces with warp shuffles (kernels/common/cuda_reduce.h),
//     one thread per channel adds the slices in order (deterministic), and the elementwise pass
//     walks whole planes with float4 accesses.
//   instance norm: planes of at most 32 * 4 vectors (the model's 4x4..16x16) go to a group of
//     <= 32 lanes of a warp that holds the plane in registers (one read of x, exact two-pass
//     statistics from registers, xor-shuffle sums); larger planes get one block per plane
//     (32..256 threads) that does the two-pass statistics and the normalization (forward), or
//     both sums and dx (backward), in one kernel, re-reading the plane from L1/L2.
// Spectral normalization: W^T u as one thread per column over a slice of rows (v1 one slice, v2
//   slices of 64 rows, added in order), W v as one thread per row (v1) or one warp per row (v2,
//   coalesced), one block per normalization and dot product.
// Elementwise passes compute in float from float statistics; every sum is double.
// Speed against cuDNN and the copy bandwidth, with machine and command: docs/kernels.md "norm".
//
// Backward writes: dx, dweight, dbias, dw overwritten (norm.h).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/norm/norm.h"
#include "kernels/norm/norm_cuda.h"
#include "kernels/norm/norm_variants.h"
#include "kernels/runtime/kernel_choice.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;
std::atomic<int> selected_variant{2};

// ---- shared device helpers -------------------------------------------------------------------

__device__ __forceinline__ float gamma_at(const float* weight, int64_t c) { return weight ? weight[c] : 1.0f; }
__device__ __forceinline__ float beta_at(const float* bias, int64_t c) { return bias ? bias[c] : 0.0f; }

__device__ __forceinline__ float normalize_one(float x, float mean, float invstd, float gamma, float beta) {
  return (x - mean) * invstd * gamma + beta;
}

// dx of one element; mean_dy = mean_dy_x_hat = 0 gives the eval form gamma * invstd * dy.
__device__ __forceinline__ float dx_one(float x, float dy, float mean, float invstd, float gamma, float mean_dy,
                                        float mean_dy_x_hat) {
  return gamma * invstd * (dy - mean_dy - (x - mean) * invstd * mean_dy_x_hat);
}

template <typename F>
__device__ __forceinline__ float4 map4(float4 a, F f) {
  return make_float4(f(a.x), f(a.y), f(a.z), f(a.w));
}
template <typename F>
__device__ __forceinline__ float4 map4(float4 a, float4 b, F f) {
  return make_float4(f(a.x, b.x), f(a.y, b.y), f(a.z, b.z), f(a.w, b.w));
}
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }

// Elements of a group: `blocks` runs of `run`, `stride` apart, from `first` (as norm.cpp).
struct Group {
  int64_t first, blocks, stride, run;
  __device__ int64_t count() const { return blocks * run; }
  template <typename F>
  __device__ void for_each(F f) const {
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t i = 0; i < run; ++i) f(first + b * stride + i);
  }
};

__device__ Group group_of(const NormShape& s, int64_t g, bool per_plane) {
  if (per_plane) return {g * s.spatial, 1, s.spatial, s.spatial};
  return {g * s.spatial, s.batch, s.channels * s.spatial, s.spatial};
}

// Two-pass biased moments of a group in double (v1).
__device__ void group_moments(const float* x, const Group& g, double& mean, double& var) {
  double sum = 0;
  g.for_each([&](int64_t i) { sum += x[i]; });
  mean = sum / static_cast<double>(g.count());
  double squares = 0;
  g.for_each([&](int64_t i) { squares += (x[i] - mean) * (x[i] - mean); });
  var = squares / static_cast<double>(g.count());
}

// Training statistics of channel c from its batch moments, and the running-stat update.
__device__ void store_batch_statistics(int64_t c, double mean, double var, int64_t count,
                                       const BatchNormConfig& config, float* running_mean, float* running_var,
                                       float* save_mean, float* save_invstd) {
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + config.eps));
  if (running_mean)
    running_mean[c] = static_cast<float>((1 - config.momentum) * running_mean[c] + config.momentum * mean);
  if (running_var) {
    const double unbiased = var * static_cast<double>(count) / static_cast<double>(count - 1);
    running_var[c] = static_cast<float>((1 - config.momentum) * running_var[c] + config.momentum * unbiased);
  }
}

// ---- kernels shared by the variants ----------------------------------------------------------

__global__ void eval_statistics_kernel(const float* running_mean, const float* running_var, float* save_mean,
                                       float* save_invstd, int64_t channels, double eps) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  save_mean[c] = running_mean[c];
  save_invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
}

// dweight[c] = sum dy * x_hat, dbias[c] = sum dy from the per-group sum pairs: batch norm's
// group is the channel; instance norm's planes n * channels + c are added in n order.
__global__ void channel_param_grads_kernel(const double* group_sums, float* dweight, float* dbias, NormShape s,
                                           bool per_plane) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= s.channels) return;
  double dy = 0, dy_x_hat = 0;
  const int64_t groups = per_plane ? s.batch : 1;
  for (int64_t n = 0; n < groups; ++n) {
    const int64_t g = per_plane ? n * s.channels + c : c;
    dy += group_sums[2 * g];
    dy_x_hat += group_sums[2 * g + 1];
  }
  if (dweight) dweight[c] = static_cast<float>(dy_x_hat);
  if (dbias) dbias[c] = static_cast<float>(dy);
}

// The group means of the backward's sums (zero in eval: the statistics are constants there).
__device__ __forceinline__ void grad_means(const double* sums, int64_t g, double count, bool training,
                                           float& mean_dy, float& mean_dy_x_hat) {
  mean_dy = training ? static_cast<float>(sums[2 * g] / count) : 0.0f;
  mean_dy_x_hat = training ? static_cast<float>(sums[2 * g + 1] / count) : 0.0f;
}

// ---- v1: one thread per group, then one thread per element -------------------------------------

__global__ void batch_norm_statistics_kernel_v1(const float* x, float* running_mean, float* running_var,
                                                float* save_mean, float* save_invstd, NormShape s,
                                                BatchNormConfig config) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= s.channels) return;
  const Group g = group_of(s, c, false);
  double mean, var;
  group_moments(x, g, mean, var);
  store_batch_statistics(c, mean, var, g.count(), config, running_mean, running_var, save_mean, save_invstd);
}

__global__ void instance_norm_statistics_kernel_v1(const float* x, float* save_mean, float* save_invstd, NormShape s,
                                                   double eps) {
  const int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= s.batch * s.channels) return;
  double mean, var;
  group_moments(x, group_of(s, p, true), mean, var);
  save_mean[p] = static_cast<float>(mean);
  save_invstd[p] = static_cast<float>(1.0 / sqrt(var + eps));
}

__global__ void normalize_kernel_v1(const float* x, const float* mean, const float* invstd, const float* weight,
                                    const float* bias, float* y, NormShape s, bool per_plane) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= s.batch * s.channels * s.spatial) return;
  const int64_t plane = i / s.spatial, c = plane % s.channels, g = per_plane ? plane : c;
  y[i] = normalize_one(x[i], mean[g], invstd[g], gamma_at(weight, c), beta_at(bias, c));
}

// sums[2g] = sum dy, sums[2g + 1] = sum dy * x_hat over group g.
__global__ void grad_sums_kernel_v1(const float* x, const float* dy, const float* mean, const float* invstd,
                                    double* sums, NormShape s, bool per_plane) {
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= (per_plane ? s.batch * s.channels : s.channels)) return;
  double sum_dy = 0, sum_dy_x_hat = 0;
  group_of(s, g, per_plane).for_each([&](int64_t i) {
    sum_dy += dy[i];
    sum_dy_x_hat += static_cast<double>(dy[i]) * (x[i] - mean[g]) * invstd[g];
  });
  sums[2 * g] = sum_dy;
  sums[2 * g + 1] = sum_dy_x_hat;
}

__global__ void dx_kernel_v1(const float* x, const float* dy, const float* mean, const float* invstd,
                             const float* weight, const double* sums, float* dx, NormShape s, bool per_plane,
                             bool training) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= s.batch * s.channels * s.spatial) return;
  const int64_t plane = i / s.spatial, c = plane % s.channels, g = per_plane ? plane : c;
  float mean_dy, mean_dy_x_hat;
  grad_means(sums, g, static_cast<double>(per_plane ? s.spatial : s.batch * s.spatial), training, mean_dy,
             mean_dy_x_hat);
  dx[i] = dx_one(x[i], dy[i], mean[g], invstd[g], gamma_at(weight, c), mean_dy, mean_dy_x_hat);
}

// ---- v2: plane walks -----------------------------------------------------------------------------

// How threads walk planes: `lanes` threads share a plane (a power of two, about the plane's
// vector count), so a block of kThreads covers kThreads / lanes planes at a time.
struct PlaneWalk {
  int lanes;
  bool vectorized;  // spatial % 4 == 0 and the pointers 16-byte aligned: float4 accesses
};

// Calls f(i, width) for the elements [i, i + width) of `plane` that lane `lane` owns.
template <typename F>
__device__ __forceinline__ void walk_plane(int64_t plane, int64_t spatial, const PlaneWalk& walk, int lane, F f) {
  const int64_t base = plane * spatial;
  const int width = walk.vectorized ? 4 : 1;
  for (int64_t j = static_cast<int64_t>(lane) * width; j < spatial; j += static_cast<int64_t>(walk.lanes) * width)
    f(base + j, width);
}

// Shifted moments: a += x - K, b += (x - K)^2, K = the channel's first element.
struct ShiftedMomentTerms {
  const float* x;
  __device__ void operator()(int64_t i, int width, int64_t c, const NormShape& s, double& a, double& b) const {
    const double shift = x[c * s.spatial];
    if (width == 4) {
      const float4 v = load4(x + i);
      const double d0 = v.x - shift, d1 = v.y - shift, d2 = v.z - shift, d3 = v.w - shift;
      a += d0 + d1 + d2 + d3;
      b += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
    } else {
      const double d = x[i] - shift;
      a += d;
      b += d * d;
    }
  }
};

// Gradient sums of group g: a += dy, b += dy * x_hat.
struct GradTerms {
  const float* x;
  const float* dy;
  const float* mean;
  const float* invstd;
  __device__ void operator()(int64_t i, int width, int64_t g, const NormShape&, double& a, double& b) const {
    const double m = mean[g], is = invstd[g];
    if (width == 4) {
      const float4 xv = load4(x + i), dv = load4(dy + i);
      a += static_cast<double>(dv.x) + dv.y + dv.z + dv.w;
      b += (dv.x * (xv.x - m) + dv.y * (xv.y - m) + dv.z * (xv.z - m) + dv.w * (xv.w - m)) * is;
    } else {
      a += dy[i];
      b += dy[i] * (x[i] - m) * is;
    }
  }
};

// ---- v2: batch norm as a two-level reduction -------------------------------------------------------

// Block (c, slice) sums the terms over the planes n * channels + c, n in the slice's batch
// range: partials[2 (c * slices + slice) + {0, 1}].
template <typename Terms>
__global__ void __launch_bounds__(kThreads)
    channel_partial_sums_kernel_v2(Terms terms, NormShape s, PlaneWalk walk, double* partials) {
  const int64_t c = blockIdx.x, slice = blockIdx.y, slices = gridDim.y;
  const int64_t n_begin = s.batch * slice / slices, n_end = s.batch * (slice + 1) / slices;
  const int planes_at_once = blockDim.x / walk.lanes;
  const int lane = threadIdx.x % walk.lanes;
  double a = 0, b = 0;
  for (int64_t n = n_begin + threadIdx.x / walk.lanes; n < n_end; n += planes_at_once)
    walk_plane(n * s.channels + c, s.spatial, walk, lane, [&](int64_t i, int width) { terms(i, width, c, s, a, b); });
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    partials[2 * (c * slices + slice)] = a;
    partials[2 * (c * slices + slice) + 1] = b;
  }
}

// Adds channel c's slices in order.
__device__ void add_slices(const double* partials, int64_t c, int slices, double& a, double& b) {
  a = 0;
  b = 0;
  for (int k = 0; k < slices; ++k) {
    a += partials[2 * (c * slices + k)];
    b += partials[2 * (c * slices + k) + 1];
  }
}

__global__ void batch_norm_finalize_statistics_kernel_v2(const float* x, const double* partials, int slices,
                                                         float* running_mean, float* running_var, float* save_mean,
                                                         float* save_invstd, NormShape s, BatchNormConfig config) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= s.channels) return;
  double shifted_sum, shifted_squares;
  add_slices(partials, c, slices, shifted_sum, shifted_squares);
  const int64_t count = s.batch * s.spatial;
  const double shifted_mean = shifted_sum / static_cast<double>(count);
  const double var = fmax(shifted_squares / static_cast<double>(count) - shifted_mean * shifted_mean, 0.0);
  store_batch_statistics(c, x[c * s.spatial] + shifted_mean, var, count, config, running_mean, running_var, save_mean,
                         save_invstd);
}

__global__ void batch_norm_finalize_grad_sums_kernel_v2(const double* partials, int slices, double* sums,
                                                        int64_t channels) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double a, b;
  add_slices(partials, c, slices, a, b);
  sums[2 * c] = a;
  sums[2 * c + 1] = b;
}

// The plane this thread walks in an elementwise v2 pass.
__device__ __forceinline__ int64_t plane_of_thread(const PlaneWalk& walk) {
  return static_cast<int64_t>(blockIdx.x) * (blockDim.x / walk.lanes) + threadIdx.x / walk.lanes;
}

__global__ void __launch_bounds__(kThreads)
    normalize_kernel_v2(const float* x, const float* mean, const float* invstd, const float* weight, const float* bias,
                        float* y, NormShape s, PlaneWalk walk) {
  const int64_t plane = plane_of_thread(walk);
  if (plane >= s.batch * s.channels) return;
  const int64_t c = plane % s.channels;
  const float m = mean[c], is = invstd[c], gamma = gamma_at(weight, c), beta = beta_at(bias, c);
  const auto f = [=](float v) { return normalize_one(v, m, is, gamma, beta); };
  walk_plane(plane, s.spatial, walk, threadIdx.x % walk.lanes, [&](int64_t i, int width) {
    if (width == 4) {
      store4(y + i, map4(load4(x + i), f));
    } else {
      y[i] = f(x[i]);
    }
  });
}

__global__ void __launch_bounds__(kThreads)
    dx_kernel_v2(const float* x, const float* dy, const float* mean, const float* invstd, const float* weight,
                 const double* sums, float* dx, NormShape s, PlaneWalk walk, bool training) {
  const int64_t plane = plane_of_thread(walk);
  if (plane >= s.batch * s.channels) return;
  const int64_t c = plane % s.channels;
  float mean_dy, mean_dy_x_hat;
  grad_means(sums, c, static_cast<double>(s.batch * s.spatial), training, mean_dy, mean_dy_x_hat);
  const float m = mean[c], is = invstd[c], gamma = gamma_at(weight, c);
  const auto f = [=](float xv, float dyv) { return dx_one(xv, dyv, m, is, gamma, mean_dy, mean_dy_x_hat); };
  walk_plane(plane, s.spatial, walk, threadIdx.x % walk.lanes, [&](int64_t i, int width) {
    if (width == 4) {
      store4(dx + i, map4(load4(x + i), load4(dy + i), f));
    } else {
      dx[i] = f(x[i], dy[i]);
    }
  });
}

// ---- v2: instance norm, one block per plane ------------------------------------------------------

// Sum of f(x) over the block's plane, returned to every thread.
template <typename F>
__device__ double plane_sum(const float* x, int64_t plane, int64_t spatial, const PlaneWalk& walk, F f) {
  double sum = 0;
  walk_plane(plane, spatial, walk, threadIdx.x, [&](int64_t i, int width) {
    for (int k = 0; k < width; ++k) sum += f(x[i + k]);
  });
  return block_sum(sum);
}

__global__ void __launch_bounds__(kThreads)
    instance_norm_forward_kernel_v2(const float* x, const float* weight, const float* bias, float* y, float* save_mean,
                                    float* save_invstd, NormShape s, PlaneWalk walk, double eps) {
  const int64_t plane = blockIdx.x, c = plane % s.channels;
  const double count = static_cast<double>(s.spatial);
  const double mean = plane_sum(x, plane, s.spatial, walk, [](float v) { return static_cast<double>(v); }) / count;
  const double var = plane_sum(x, plane, s.spatial, walk, [=](float v) { return (v - mean) * (v - mean); }) / count;
  const float m = static_cast<float>(mean), is = static_cast<float>(1.0 / sqrt(var + eps));
  if (threadIdx.x == 0) {
    save_mean[plane] = m;
    save_invstd[plane] = is;
  }
  const float gamma = gamma_at(weight, c), beta = beta_at(bias, c);
  const auto f = [=](float v) { return normalize_one(v, m, is, gamma, beta); };
  walk_plane(plane, s.spatial, walk, threadIdx.x, [&](int64_t i, int width) {
    if (width == 4) {
      store4(y + i, map4(load4(x + i), f));
    } else {
      y[i] = f(x[i]);
    }
  });
}

__global__ void __launch_bounds__(kThreads)
    instance_norm_backward_kernel_v2(const float* x, const float* dy, const float* weight, const float* save_mean,
                                     const float* save_invstd, float* dx, double* sums, NormShape s, PlaneWalk walk) {
  const int64_t plane = blockIdx.x, c = plane % s.channels;
  double a = 0, b = 0;
  const GradTerms terms{x, dy, save_mean, save_invstd};
  walk_plane(plane, s.spatial, walk, threadIdx.x, [&](int64_t i, int width) { terms(i, width, plane, s, a, b); });
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    sums[2 * plane] = a;
    sums[2 * plane + 1] = b;
  }
  const double count = static_cast<double>(s.spatial);
  const float m = save_mean[plane], is = save_invstd[plane], gamma = gamma_at(weight, c);
  const float mean_dy = static_cast<float>(a / count), mean_dy_x_hat = static_cast<float>(b / count);
  const auto f = [=](float xv, float dyv) { return dx_one(xv, dyv, m, is, gamma, mean_dy, mean_dy_x_hat); };
  walk_plane(plane, s.spatial, walk, threadIdx.x, [&](int64_t i, int width) {
    if (width == 4) {
      store4(dx + i, map4(load4(x + i), load4(dy + i), f));
    } else {
      dx[i] = f(x[i], dy[i]);
    }
  });
}

// ---- v2: instance norm, small planes in registers -----------------------------------------------

// The model's instance norms have planes of 16..256 elements: a block per plane would leave most
// of its threads idle. Instead a group of `lanes` (a power of two <= 32) threads of one warp takes
// a plane, each lane keeping up to kVectorsPerLane float4 of it in registers: x is read once,
// both statistics come from registers (two-pass, exact), and sums are xor shuffles within the
// group (lane ^ offset, offset < lanes, stays inside an aligned group).
constexpr int kVectorsPerLane = 4;

__device__ __forceinline__ double group_sum(double value, int lanes) {
  for (int offset = lanes / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// A lane's share of one plane: slot 4r + k is element k of the lane's r-th vector (width 4), or
// element 0 of its r-th scalar (width 1); slots outside the plane are invalid and hold 0.
struct PlaneSlice {
  float values[4 * kVectorsPerLane];
  bool valid[4 * kVectorsPerLane];

  __device__ void load(const float* src, int64_t plane, int64_t spatial, const PlaneWalk& walk, int lane,
                       bool active) {
    const int width = walk.vectorized ? 4 : 1;
#pragma unroll
    for (int r = 0; r < kVectorsPerLane; ++r) {
      const int64_t j = (static_cast<int64_t>(lane) + static_cast<int64_t>(r) * walk.lanes) * width;
      const bool ok = active && j < spatial;
      const float4 v = !ok ? make_float4(0.0f, 0.0f, 0.0f, 0.0f)
                           : width == 4 ? load4(src + plane * spatial + j)
                                        : make_float4(src[plane * spatial + j], 0.0f, 0.0f, 0.0f);
      values[4 * r] = v.x;
      values[4 * r + 1] = v.y;
      values[4 * r + 2] = v.z;
      values[4 * r + 3] = v.w;
      for (int k = 0; k < 4; ++k) valid[4 * r + k] = ok && k < width;
    }
  }

  __device__ void store(float* dst, int64_t plane, int64_t spatial, const PlaneWalk& walk, int lane) const {
    const int width = walk.vectorized ? 4 : 1;
#pragma unroll
    for (int r = 0; r < kVectorsPerLane; ++r) {
      const int64_t j = (static_cast<int64_t>(lane) + static_cast<int64_t>(r) * walk.lanes) * width;
      if (!valid[4 * r]) continue;
      if (width == 4) {
        store4(dst + plane * spatial + j,
               make_float4(values[4 * r], values[4 * r + 1], values[4 * r + 2], values[4 * r + 3]));
      } else {
        dst[plane * spatial + j] = values[4 * r];
      }
    }
  }
};

__global__ void __launch_bounds__(kThreads)
    instance_norm_forward_small_kernel_v2(const float* x, const float* weight, const float* bias, float* y,
                                          float* save_mean, float* save_invstd, NormShape s, PlaneWalk walk,
                                          double eps) {
  const int64_t plane = plane_of_thread(walk);
  const bool active = plane < s.batch * s.channels;  // idle lanes still join the shuffles
  const int lane = threadIdx.x % walk.lanes;
  PlaneSlice xs;
  xs.load(x, plane, s.spatial, walk, lane, active);
  const double count = static_cast<double>(s.spatial);
  double sum = 0;
  for (int k = 0; k < 4 * kVectorsPerLane; ++k) sum += xs.values[k];  // invalid slots hold 0
  const double mean = group_sum(sum, walk.lanes) / count;
  double squares = 0;
  for (int k = 0; k < 4 * kVectorsPerLane; ++k)
    if (xs.valid[k]) squares += (xs.values[k] - mean) * (xs.values[k] - mean);
  const double var = group_sum(squares, walk.lanes) / count;
  if (!active) return;
  const float m = static_cast<float>(mean), is = static_cast<float>(1.0 / sqrt(var + eps));
  if (lane == 0) {
    save_mean[plane] = m;
    save_invstd[plane] = is;
  }
  const int64_t c = plane % s.channels;
  const float gamma = gamma_at(weight, c), beta = beta_at(bias, c);
  for (int k = 0; k < 4 * kVectorsPerLane; ++k) xs.values[k] = normalize_one(xs.values[k], m, is, gamma, beta);
  xs.store(y, plane, s.spatial, walk, lane);
}

__global__ void __launch_bounds__(kThreads)
    instance_norm_backward_small_kernel_v2(const float* x, const float* dy, const float* weight,
                                           const float* save_mean, const float* save_invstd, float* dx,
                                           double* sums, NormShape s, PlaneWalk walk) {
  const int64_t plane = plane_of_thread(walk);
  const bool active = plane < s.batch * s.channels;  // idle lanes still join the shuffles
  const int lane = threadIdx.x % walk.lanes;
  PlaneSlice xs, dys;
  xs.load(x, plane, s.spatial, walk, lane, active);
  dys.load(dy, plane, s.spatial, walk, lane, active);
  const float m = active ? save_mean[plane] : 0.0f, is = active ? save_invstd[plane] : 0.0f;
  double a = 0, b = 0;  // invalid slots hold dy = 0: they add nothing
  for (int k = 0; k < 4 * kVectorsPerLane; ++k) {
    a += dys.values[k];
    b += static_cast<double>(dys.values[k]) * (xs.values[k] - m) * is;
  }
  a = group_sum(a, walk.lanes);
  b = group_sum(b, walk.lanes);
  if (!active) return;
  if (lane == 0) {
    sums[2 * plane] = a;
    sums[2 * plane + 1] = b;
  }
  const double count = static_cast<double>(s.spatial);
  const float gamma = gamma_at(weight, plane % s.channels);
  const float mean_dy = static_cast<float>(a / count), mean_dy_x_hat = static_cast<float>(b / count);
  for (int k = 0; k < 4 * kVectorsPerLane; ++k)
    xs.values[k] = dx_one(xs.values[k], dys.values[k], m, is, gamma, mean_dy, mean_dy_x_hat);
  xs.store(dx, plane, s.spatial, walk, lane);
}

// ---- spectral normalization -----------------------------------------------------------------------

// partials[slice * cols + j] = sum over the slice's rows i of W[i, j] a[i].
__global__ void wt_times_partial_kernel(const float* w, const float* a, double* partials, SpectralShape s) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= s.cols) return;
  const int64_t slice = blockIdx.y, slices = gridDim.y;
  double acc = 0;
  for (int64_t i = s.rows * slice / slices; i < s.rows * (slice + 1) / slices; ++i)
    acc += static_cast<double>(w[i * s.cols + j]) * a[i];
  partials[slice * s.cols + j] = acc;
}

// out[i] = row i of W times b; v1: one thread per row.
__global__ void w_times_kernel_v1(const float* w, const float* b, double* out, SpectralShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= s.rows) return;
  double acc = 0;
  for (int64_t j = 0; j < s.cols; ++j) acc += static_cast<double>(w[i * s.cols + j]) * b[j];
  out[i] = acc;
}

// v2: one warp per row, the lanes read consecutive columns (coalesced).
__global__ void w_times_kernel_v2(const float* w, const float* b, double* out, SpectralShape s) {
  const int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warpSize;
  if (i >= s.rows) return;  // whole warps leave together: blockDim.x is a multiple of 32
  const int lane = threadIdx.x % warpSize;
  double acc = 0;
  for (int64_t j = lane; j < s.cols; j += warpSize) acc += static_cast<double>(w[i * s.cols + j]) * b[j];
  acc = warp_sum(acc);
  if (lane == 0) out[i] = acc;
}

// One block: out[j] = the sum of the slices of partials at j, then out /= max(||out||, eps).
__global__ void __launch_bounds__(kThreads)
    normalize_slices_kernel(const double* partials, int slices, int64_t n, double eps, float* out) {
  double squares = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    double v = 0;
    for (int k = 0; k < slices; ++k) v += partials[k * n + j];
    out[j] = static_cast<float>(v);
    squares += v * v;
  }
  const double scale = 1.0 / fmax(sqrt(block_sum(squares)), eps);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) out[j] = static_cast<float>(out[j] * scale);
}

// One block: *sigma = u . t.
__global__ void __launch_bounds__(kThreads) dot_kernel(const float* u, const double* t, int64_t n, float* sigma) {
  double sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += u[i] * t[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *sigma = static_cast<float>(sum);
}

__global__ void divide_by_sigma_kernel(const float* w, const float* sigma, float* y, int64_t n) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) y[k] = static_cast<float>(w[k] / static_cast<double>(*sigma));
}

// sum(G * W) as a device sum term.
struct ProductTerm {
  const float* a;
  const float* b;
  __device__ double operator()(int64_t i) const { return static_cast<double>(a[i]) * b[i]; }
};

// dW = G / sigma - (g_dot_w / sigma^2) u v^T.
__global__ void spectral_dw_kernel(const float* u, const float* v, const float* sigma, const double* g_dot_w,
                                   const float* dy, float* dw, SpectralShape s) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= s.rows * s.cols) return;
  const double sg = *sigma, rank_one_scale = *g_dot_w / (sg * sg);
  dw[k] = static_cast<float>(dy[k] / sg - rank_one_scale * u[k / s.cols] * v[k % s.cols]);
}

// ---- host side ------------------------------------------------------------------------------------

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Lanes per plane: the plane's vector count rounded down to a power of two, within [1, threads].
PlaneWalk plane_walk(int64_t spatial, int threads, std::initializer_list<const void*> pointers) {
  bool vectorized = spatial % 4 == 0;
  for (const void* p : pointers) vectorized = vectorized && aligned16(p);
  const int64_t vectors = vectorized ? spatial / 4 : spatial;
  int lanes = 1;
  while (lanes * 2 <= threads && lanes * 2 <= vectors) lanes *= 2;
  return {lanes, vectorized};
}

// The walk of one block per plane: all its threads (a warp multiple <= 256, about the plane's
// vector count) share the plane.
PlaneWalk whole_block_walk(int64_t spatial, std::initializer_list<const void*> pointers) {
  PlaneWalk walk = plane_walk(spatial, kThreads, pointers);
  walk.lanes = std::min(kThreads, std::max(32, (walk.lanes + 31) / 32 * 32));
  return walk;
}

// The walk of the register kernels: lanes = the plane's vectors / kVectorsPerLane, rounded up to
// a power of two; `fits` when that is at most a warp.
struct RegisterWalk {
  PlaneWalk walk;
  bool fits;
};

RegisterWalk register_walk(int64_t spatial, std::initializer_list<const void*> pointers) {
  PlaneWalk walk = plane_walk(spatial, kThreads, pointers);
  const int64_t vectors = walk.vectorized ? spatial / 4 : spatial;
  walk.lanes = 1;
  while (walk.lanes * kVectorsPerLane < vectors && walk.lanes < 32) walk.lanes *= 2;
  return {walk, vectors <= static_cast<int64_t>(walk.lanes) * kVectorsPerLane};
}

// Batch slices per channel for the v2 reductions: about 1024 blocks in all (8 per SM), each
// slice at least one plane; a function of the shape only (deterministic).
int batch_slices(const NormShape& s) {
  const int64_t wanted = (1024 + s.channels - 1) / s.channels;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({wanted, s.batch, 65535})));
}

int64_t element_count(const NormShape& s) { return s.batch * s.channels * s.spatial; }

// Blocks for an elementwise v2 pass: each covers kThreads / lanes planes.
unsigned plane_pass_blocks(const NormShape& s, const PlaneWalk& walk) {
  return blocks_for(s.batch * s.channels, kThreads / walk.lanes);
}

#ifndef FER_CUDA_SIM  // the simulator refuses the vendor choice (set_kernel_choice)
bool use_vendor_batch_norm() { return kernel_choice("norm") == KernelChoice::Vendor; }
#endif

void batch_norm_training_statistics_v2(const float* x, float* running_mean, float* running_var, float* save_mean,
                                       float* save_invstd, const NormShape& s, const BatchNormConfig& config) {
  const int slices = batch_slices(s);
  DeviceBuffer<double> partials(2 * s.channels * slices);
  launch_kernel(channel_partial_sums_kernel_v2<ShiftedMomentTerms>,
                dim3(static_cast<unsigned>(s.channels), static_cast<unsigned>(slices)), kThreads, 0,
                ShiftedMomentTerms{x}, s, plane_walk(s.spatial, kThreads, {x}), partials.get());
  launch_kernel(batch_norm_finalize_statistics_kernel_v2, blocks_for(s.channels, kThreads), kThreads, 0, x,
                partials.get(), slices, running_mean, running_var, save_mean, save_invstd, s, config);
}

// sums[2c + {0, 1}] = (sum dy, sum dy * x_hat) of channel c.
void batch_norm_grad_sums_v2(const float* x, const float* dy, const float* save_mean, const float* save_invstd,
                             double* sums, const NormShape& s) {
  const int slices = batch_slices(s);
  DeviceBuffer<double> partials(2 * s.channels * slices);
  launch_kernel(channel_partial_sums_kernel_v2<GradTerms>,
                dim3(static_cast<unsigned>(s.channels), static_cast<unsigned>(slices)), kThreads, 0,
                GradTerms{x, dy, save_mean, save_invstd}, s, plane_walk(s.spatial, kThreads, {x, dy}),
                partials.get());
  launch_kernel(batch_norm_finalize_grad_sums_kernel_v2, blocks_for(s.channels, kThreads), kThreads, 0,
                partials.get(), slices, sums, s.channels);
}

void batch_norm_backward_native(const float* x, const float* dy, const float* weight, const float* save_mean,
                                const float* save_invstd, float* dx, float* dweight, float* dbias,
                                const NormShape& shape, bool training) {
  DeviceBuffer<double> sums(2 * shape.channels);
  if (selected_variant.load() == 1) {
    launch_kernel(grad_sums_kernel_v1, blocks_for(shape.channels, kThreads), kThreads, 0, x, dy, save_mean,
                  save_invstd, sums.get(), shape, false);
    launch_kernel(dx_kernel_v1, blocks_for(element_count(shape), kThreads), kThreads, 0, x, dy, save_mean, save_invstd,
                  weight, sums.get(), dx, shape, false, training);
  } else {
    batch_norm_grad_sums_v2(x, dy, save_mean, save_invstd, sums.get(), shape);
    const PlaneWalk walk = plane_walk(shape.spatial, kThreads, {x, dy, dx});
    launch_kernel(dx_kernel_v2, plane_pass_blocks(shape, walk), kThreads, 0, x, dy, save_mean, save_invstd, weight,
                  sums.get(), dx, shape, walk, training);
  }
  launch_kernel(channel_param_grads_kernel, blocks_for(shape.channels, kThreads), kThreads, 0, sums.get(), dweight,
                dbias, shape, false);
}

// out = normalize(W^T a): v1 one row slice (one thread per column), v2 slices of 64 rows.
void normalized_wt_times(const float* w, const float* a, float* out, const SpectralShape& s, double eps) {
  const int64_t wanted = selected_variant.load() == 1 ? 1 : (s.rows + 63) / 64;
  const int slices = static_cast<int>(std::min<int64_t>(wanted, 65535));
  DeviceBuffer<double> partials(slices * s.cols);
  launch_kernel(wt_times_partial_kernel, dim3(blocks_for(s.cols, kThreads), static_cast<unsigned>(slices)), kThreads,
                0, w, a, partials.get(), s);
  launch_kernel(normalize_slices_kernel, 1, kThreads, 0, partials.get(), slices, s.cols, eps, out);
}

// t = W b (raw, double).
void w_times(const float* w, const float* b, double* t, const SpectralShape& s) {
  if (selected_variant.load() == 1) {
    launch_kernel(w_times_kernel_v1, blocks_for(s.rows, kThreads), kThreads, 0, w, b, t, s);
  } else {
    launch_kernel(w_times_kernel_v2, blocks_for(s.rows * 32, kThreads), kThreads, 0, w, b, t, s);
  }
}

}  // namespace

void set_norm_variant(int variant) {
  FER_CHECK(variant == 1 || variant == 2) << "set_norm_variant: variant " << variant << " (the norm kernels have 1, 2)";
  selected_variant.store(variant);
}

int norm_variant() { return selected_variant.load(); }

void batch_norm_eval_statistics_cuda(const float* running_mean, const float* running_var, float* save_mean,
                                     float* save_invstd, int64_t channels, double eps) {
  launch_kernel(eval_statistics_kernel, blocks_for(channels, kThreads), kThreads, 0, running_mean, running_var,
                save_mean, save_invstd, channels, eps);
}

void batch_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd,
                             const NormShape& shape, const BatchNormConfig& config) {
#ifndef FER_CUDA_SIM
  if (use_vendor_batch_norm()) {
    batch_norm_forward_vendor(x, weight, bias, running_mean, running_var, y, save_mean, save_invstd, shape, config);
    return;
  }
#endif
  const bool v1 = selected_variant.load() == 1;
  if (!config.training) {
    batch_norm_eval_statistics_cuda(running_mean, running_var, save_mean, save_invstd, shape.channels, config.eps);
  } else if (v1) {
    launch_kernel(batch_norm_statistics_kernel_v1, blocks_for(shape.channels, kThreads), kThreads, 0, x, running_mean,
                  running_var, save_mean, save_invstd, shape, config);
  } else {
    batch_norm_training_statistics_v2(x, running_mean, running_var, save_mean, save_invstd, shape, config);
  }
  if (v1) {
    launch_kernel(normalize_kernel_v1, blocks_for(element_count(shape), kThreads), kThreads, 0, x, save_mean,
                  save_invstd, weight, bias, y, shape, false);
  } else {
    const PlaneWalk walk = plane_walk(shape.spatial, kThreads, {x, y});
    launch_kernel(normalize_kernel_v2, plane_pass_blocks(shape, walk), kThreads, 0, x, save_mean, save_invstd, weight,
                  bias, y, shape, walk);
  }
}

void batch_norm_backward_cuda(const float* x, const float* dy, const float* weight, const float* save_mean,
                              const float* save_invstd, float* dx, float* dweight, float* dbias, const NormShape& shape,
                              bool training) {
#ifndef FER_CUDA_SIM
  // cuDNN's backward is the training one; the eval backward runs the native kernels (norm_variants.h).
  if (training && use_vendor_batch_norm()) {
    batch_norm_backward_vendor(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape);
    return;
  }
#endif
  batch_norm_backward_native(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape, training);
}

void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* save_mean,
                                float* save_invstd, const NormShape& shape, double eps) {
  const int64_t planes = shape.batch * shape.channels;
  if (selected_variant.load() == 1) {
    launch_kernel(instance_norm_statistics_kernel_v1, blocks_for(planes, kThreads), kThreads, 0, x, save_mean,
                  save_invstd, shape, eps);
    launch_kernel(normalize_kernel_v1, blocks_for(element_count(shape), kThreads), kThreads, 0, x, save_mean,
                  save_invstd, weight, bias, y, shape, true);
  } else {
    const RegisterWalk small = register_walk(shape.spatial, {x, y});
    if (small.fits) {
      launch_kernel(instance_norm_forward_small_kernel_v2, plane_pass_blocks(shape, small.walk), kThreads, 0, x, weight,
                    bias, y, save_mean, save_invstd, shape, small.walk, eps);
    } else {
      const PlaneWalk walk = whole_block_walk(shape.spatial, {x, y});
      launch_kernel(instance_norm_forward_kernel_v2, blocks_for(planes, 1), walk.lanes, 0, x, weight, bias, y,
                    save_mean, save_invstd, shape, walk, eps);
    }
  }
}

void instance_norm_backward_cuda(const float* x, const float* dy, const float* weight, const float* save_mean,
                                 const float* save_invstd, float* dx, float* dweight, float* dbias,
                                 const NormShape& shape) {
  const int64_t planes = shape.batch * shape.channels;
  DeviceBuffer<double> sums(2 * planes);
  if (selected_variant.load() == 1) {
    launch_kernel(grad_sums_kernel_v1, blocks_for(planes, kThreads), kThreads, 0, x, dy, save_mean, save_invstd,
                  sums.get(), shape, true);
    launch_kernel(dx_kernel_v1, blocks_for(element_count(shape), kThreads), kThreads, 0, x, dy, save_mean, save_invstd,
                  weight, sums.get(), dx, shape, true, true);
  } else {
    const RegisterWalk small = register_walk(shape.spatial, {x, dy, dx});
    if (small.fits) {
      launch_kernel(instance_norm_backward_small_kernel_v2, plane_pass_blocks(shape, small.walk), kThreads, 0, x, dy,
                    weight, save_mean, save_invstd, dx, sums.get(), shape, small.walk);
    } else {
      const PlaneWalk walk = whole_block_walk(shape.spatial, {x, dy, dx});
      launch_kernel(instance_norm_backward_kernel_v2, blocks_for(planes, 1), walk.lanes, 0, x, dy, weight, save_mean,
                    save_invstd, dx, sums.get(), shape, walk);
    }
  }
  launch_kernel(channel_param_grads_kernel, blocks_for(shape.channels, kThreads), kThreads, 0, sums.get(), dweight,
                dbias, shape, true);
}

void spectral_normalize_forward_cuda(const float* w, float* u, float* v, float* sigma, float* y,
                                     const SpectralShape& shape, const SpectralConfig& config) {
  const int iterations = config.training ? config.power_iterations : 0;
  DeviceBuffer<double> t(shape.rows);  // W v, before normalization
  for (int it = 0; it < iterations; ++it) {
    normalized_wt_times(w, u, v, shape, config.eps);
    w_times(w, v, t.get(), shape);
    launch_kernel(normalize_slices_kernel, 1, kThreads, 0, t.get(), 1, shape.rows, config.eps, u);
  }
  if (iterations == 0) {  // v from the given u; after an iteration t is W v already
    normalized_wt_times(w, u, v, shape, config.eps);
    w_times(w, v, t.get(), shape);
  }
  launch_kernel(dot_kernel, 1, kThreads, 0, u, t.get(), shape.rows, sigma);
  const int64_t n = shape.rows * shape.cols;
  launch_kernel(divide_by_sigma_kernel, blocks_for(n, kThreads), kThreads, 0, w, sigma, y, n);
}

void spectral_normalize_backward_cuda(const float* w, const float* u, const float* v, const float* sigma,
                                      const float* dy, float* dw, const SpectralShape& shape) {
  const int64_t n = shape.rows * shape.cols;
  DeviceBuffer<double> g_dot_w(1);
  sum_terms(ProductTerm{dy, w}, n, 1.0, g_dot_w.get());
  launch_kernel(spectral_dw_kernel, blocks_for(n, kThreads), kThreads, 0, u, v, sigma, g_dot_w.get(), dy, dw, shape);
}

}  // namespace fer::FER_CUDA_NS
