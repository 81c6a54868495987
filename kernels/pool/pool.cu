// Pooling kernels on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the simulator).
// Layout, padding rules and what the backward writes: pool.h; derivations: docs/kernels.md "pool".
//
// One variant each (v1), as it is memory-bound already: the model's pools are k2 s2 (each input
// read once; a warp's 32 outputs read 64 consecutive floats per row, coalesced) and the global
// pool of a 4x4..8x8 map.
//   max/avg forward: one thread per output, the window loop of the reference.
//   max/avg backward: one thread per INPUT element gathering from the windows that contain it
//     (no atomics, deterministic): max pooling recomputes each window's argmax (first maximum in
//     row-major order, as the reference) and takes its dy where that is this element; windows are
//     visited in (oh, ow) order, the order of the reference's += into dx, so the float sums agree.
//     Max pooling with stride >= kernel (the model's k2 s2: windows never overlap) instead zeroes
//     dx and has one thread per OUTPUT write its dy to its window's argmax: no cell gets two
//     writes, and the gather's index arithmetic (64-bit divisions, which bound it) is gone.
//   global average: one warp per plane (coalesced reads, shuffle sum in double); its backward one
//     thread per element.
// Speed against the copy bandwidth, with machine and command: docs/kernels.md "pool".
#include <algorithm>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/pool/pool.h"
#include "kernels/pool/pool_cuda.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// Calls cell(i) for the in-plane index i of every unpadded cell of window (oh, ow), row-major.
template <typename F>
__device__ void for_each_window_cell(const PoolShape& s, int64_t oh, int64_t ow, F cell) {
  const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
  for (int64_t h = std::max(h0, int64_t{0}); h < std::min(h0 + s.kernel, s.height); ++h)
    for (int64_t w = std::max(w0, int64_t{0}); w < std::min(w0 + s.kernel, s.width); ++w) cell(h * s.width + w);
}

// In-plane index of the first maximum of window (oh, ow): padding <= kernel / 2 (checked by the
// op) leaves at least one unpadded cell in every window.
__device__ int64_t window_argmax(const float* plane, const PoolShape& s, int64_t oh, int64_t ow) {
  int64_t best = -1;
  for_each_window_cell(s, oh, ow, [&](int64_t i) {
    if (best < 0 || plane[i] > plane[best]) best = i;
  });
  return best;
}

// The outputs o whose windows [o * stride - padding, ... + kernel) contain input row (or
// column) h: inclusive, empty when first > last.
struct WindowRange {
  int64_t first, last;
};

__device__ WindowRange windows_containing(int64_t h, int64_t kernel, int64_t stride, int64_t padding,
                                          int64_t outputs) {
  const int64_t p = h + padding;  // o * stride <= p < o * stride + kernel
  const int64_t first = p < kernel ? 0 : (p - kernel) / stride + 1;
  return {first, std::min(p / stride, outputs - 1)};
}

struct OutputIndex {
  int64_t plane, oh, ow;
};

__device__ OutputIndex output_index(int64_t i, const PoolShape& s) {
  const int64_t rest = i / s.out_width;
  return {rest / s.out_height, rest % s.out_height, i % s.out_width};
}

__device__ int64_t output_count(const PoolShape& s) { return s.batch * s.channels * s.out_height * s.out_width; }
__device__ int64_t input_count(const PoolShape& s) { return s.batch * s.channels * s.height * s.width; }

__global__ void max_pool2d_forward_kernel_v1(const float* x, float* y, PoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= output_count(s)) return;
  const OutputIndex o = output_index(i, s);
  const float* plane = x + o.plane * s.height * s.width;
  y[i] = plane[window_argmax(plane, s, o.oh, o.ow)];
}

__global__ void avg_pool2d_forward_kernel_v1(const float* x, float* y, PoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= output_count(s)) return;
  const OutputIndex o = output_index(i, s);
  const float* plane = x + o.plane * s.height * s.width;
  double sum = 0;
  for_each_window_cell(s, o.oh, o.ow, [&](int64_t c) { sum += plane[c]; });
  y[i] = static_cast<float>(sum / static_cast<double>(s.kernel * s.kernel));
}

// dx at input element i: the sum, over the windows (oh, ow) containing it in row-major order, of
// contribution(plane, oh, ow, in-plane index of i).
template <typename Contribution>
__device__ float gather_windows(int64_t i, const PoolShape& s, Contribution contribution) {
  const int64_t w = i % s.width, h = (i / s.width) % s.height, plane = i / (s.width * s.height);
  const WindowRange rows = windows_containing(h, s.kernel, s.stride, s.padding, s.out_height);
  const WindowRange cols = windows_containing(w, s.kernel, s.stride, s.padding, s.out_width);
  float sum = 0;
  for (int64_t oh = rows.first; oh <= rows.last; ++oh)
    for (int64_t ow = cols.first; ow <= cols.last; ++ow) sum += contribution(plane, oh, ow, h * s.width + w);
  return sum;
}

__global__ void max_pool2d_backward_kernel_v1(const float* x, const float* dy, float* dx, PoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= input_count(s)) return;
  dx[i] = gather_windows(i, s, [&](int64_t plane, int64_t oh, int64_t ow, int64_t cell) {
    const bool wins = window_argmax(x + plane * s.height * s.width, s, oh, ow) == cell;
    return wins ? dy[(plane * s.out_height + oh) * s.out_width + ow] : 0.0f;
  });
}

// Windows never overlap (stride >= kernel): dx[argmax of window i] = dy[i], dx zeroed before.
__global__ void max_pool2d_backward_scatter_kernel_v1(const float* x, const float* dy, float* dx, PoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= output_count(s)) return;
  const OutputIndex o = output_index(i, s);
  const int64_t plane_offset = o.plane * s.height * s.width;
  dx[plane_offset + window_argmax(x + plane_offset, s, o.oh, o.ow)] = dy[i];
}

__global__ void avg_pool2d_backward_kernel_v1(const float* dy, float* dx, PoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= input_count(s)) return;
  const double window = static_cast<double>(s.kernel * s.kernel);
  dx[i] = gather_windows(i, s, [&](int64_t plane, int64_t oh, int64_t ow, int64_t) {
    return static_cast<float>(dy[(plane * s.out_height + oh) * s.out_width + ow] / window);
  });
}

__global__ void global_avg_pool_forward_kernel_v1(const float* x, float* y, GlobalPoolShape s) {
  const int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warpSize;
  if (p >= s.planes) return;  // whole warps leave together: blockDim.x is a multiple of 32
  const int lane = threadIdx.x % warpSize;
  double sum = 0;
  for (int64_t i = lane; i < s.spatial; i += warpSize) sum += x[p * s.spatial + i];
  sum = warp_sum(sum);
  if (lane == 0) y[p] = static_cast<float>(sum / static_cast<double>(s.spatial));
}

__global__ void global_avg_pool_backward_kernel_v1(const float* dy, float* dx, GlobalPoolShape s) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < s.planes * s.spatial) dx[i] = static_cast<float>(dy[i / s.spatial] / static_cast<double>(s.spatial));
}

unsigned output_blocks(const PoolShape& s) {
  return blocks_for(s.batch * s.channels * s.out_height * s.out_width, kThreads);
}
int64_t input_elements(const PoolShape& s) { return s.batch * s.channels * s.height * s.width; }
unsigned input_blocks(const PoolShape& s) { return blocks_for(input_elements(s), kThreads); }

}  // namespace

void max_pool2d_forward_cuda(const float* x, float* y, const PoolShape& shape) {
  launch_kernel(max_pool2d_forward_kernel_v1, output_blocks(shape), kThreads, 0, x, y, shape);
}

void max_pool2d_backward_cuda(const float* x, const float* dy, float* dx, const PoolShape& shape) {
  if (shape.stride >= shape.kernel) {
    device_memset_zero(dx, sizeof(float) * static_cast<size_t>(input_elements(shape)));
    launch_kernel(max_pool2d_backward_scatter_kernel_v1, output_blocks(shape), kThreads, 0, x, dy, dx, shape);
  } else {
    launch_kernel(max_pool2d_backward_kernel_v1, input_blocks(shape), kThreads, 0, x, dy, dx, shape);
  }
}

void avg_pool2d_forward_cuda(const float* x, float* y, const PoolShape& shape) {
  launch_kernel(avg_pool2d_forward_kernel_v1, output_blocks(shape), kThreads, 0, x, y, shape);
}

void avg_pool2d_backward_cuda(const float* dy, float* dx, const PoolShape& shape) {
  launch_kernel(avg_pool2d_backward_kernel_v1, input_blocks(shape), kThreads, 0, dy, dx, shape);
}

void global_avg_pool_forward_cuda(const float* x, float* y, const GlobalPoolShape& shape) {
  launch_kernel(global_avg_pool_forward_kernel_v1, blocks_for(shape.planes * 32, kThreads), kThreads, 0, x, y, shape);
}

void global_avg_pool_backward_cuda(const float* dy, float* dx, const GlobalPoolShape& shape) {
  launch_kernel(global_avg_pool_backward_kernel_v1, blocks_for(shape.planes * shape.spatial, kThreads), kThreads, 0,
                dy, dx, shape);
}

}  // namespace fer::FER_CUDA_NS
