// Sum over axes and its backward on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the
// simulator). Layout, scale and what the backward writes: reduce.h; derivation: docs/kernels.md
// "reduce".
//
// The merged full shape is split, as on the CPU, into the kept axes (the outputs) and the summed
// axes (one output's terms): reduce_plan.h. Every sum is accumulated in double,
// in an order fixed by the launch configuration alone (no atomics): results repeat bit for bit.
//
// Forward:
//   v1, the naive port: one thread per output walks its terms in order.
//   v2 (the default), by layout:
//     - the summed axes include x's innermost one (row sums, per-channel sums, the full sum): a
//       two-pass reduction. Pass 1: block (o, s) sums slice s of output o's terms (each thread
//       4 consecutive terms per step, one float4 when the innermost run is a multiple of 4, else
//       offsets stepped by an odometer; then warp shuffles and one shared-memory step,
//       kernels/common/cuda_reduce.h) into a double partial; enough slices
//       per output that the grid fills the GPU even for one output. Pass 2: one thread per output
//       adds its slices in order and scales.
//     - the innermost axis is kept (column sums, e.g. a linear bias gradient): adjacent outputs
//       are adjacent in memory, so the v1 kernel's one thread per output is already coalesced;
//       the v1 kernel also takes outputs of fewer terms than a block has threads.
// Backward: grad_x[i] = scale * grad_y[o(i)], a broadcast: for_each_strided (strided_cuda.h),
//   v1 one element per step, v2 four consecutive elements per thread with 32-bit indices, as
//   one float4 store when the innermost axis is a multiple of 4 (for_each_strided_quad).
//
// Variant choice: set_reduce_variant (reduce_cuda.h), per process, default 2.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/elementwise/strided_cuda.h"
#include "kernels/reduce/reduce.h"
#include "kernels/reduce/reduce_cuda.h"
#include "kernels/reduce/reduce_plan.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kTargetBlocks = 1024;           // pass-1 blocks to aim for: ~8 per SM of an H200
constexpr int64_t kMinTermsPerSlice = 8 * 1024;  // below this a block's work does not repay its start
std::atomic<int> selected_variant{2};

template <typename I>
__global__ void __launch_bounds__(kThreads) sum_outputs_kernel_v1(StridedShape<1> kept, StridedShape<1> summed,
                                                                   double scale, const float* x, float* y) {
  for (int64_t o = global_thread(); o < kept.numel; o += grid_threads()) {
    const float* base = x + StridedCursor<1, I>(kept, static_cast<I>(o)).offset[0];
    StridedCursor<1, I> term(summed, 0);
    double sum = 0;
    for (I t = 0; t < static_cast<I>(summed.numel); ++t) {
      sum += base[term.offset[0]];
      if (t + 1 < static_cast<I>(summed.numel)) term.next(summed);
    }
    y[o] = static_cast<float>(scale * sum);
  }
}

// Block b: output b / slices, terms [slice * per_slice, +per_slice) of it, into partials[b].
// Quads: the innermost summed run and per_slice are multiples of 4 and x is 16-byte aligned, so
// each thread's 4 consecutive terms are one aligned float4 (the same additions, in the same order).
template <typename I, bool kQuads>
__global__ void __launch_bounds__(kThreads) sum_slices_kernel_v2(StridedShape<1> kept, StridedShape<1> summed,
                                                                  int64_t slices, int64_t per_slice, const float* x,
                                                                  double* partials) {
  const int64_t o = blockIdx.x / slices, slice = blockIdx.x % slices;
  const float* base = x + StridedCursor<1, I>(kept, static_cast<I>(o)).offset[0];
  const I first = static_cast<I>(slice * per_slice);
  const I end = static_cast<I>(std::min(summed.numel, (slice + 1) * per_slice));
  double sum = 0;
  for (I t = first + kStridedChunk * static_cast<I>(threadIdx.x); t < end; t += kStridedChunk * static_cast<I>(blockDim.x)) {
    StridedCursor<1, I> term(summed, t);
    if constexpr (kQuads) {
      const float4 v = *reinterpret_cast<const float4*>(base + term.offset[0]);
      sum += v.x;
      sum += v.y;
      sum += v.z;
      sum += v.w;
      continue;
    }
    const I last = t + kStridedChunk < end ? t + kStridedChunk : end;
    for (I k = t; k < last; ++k) {
      sum += base[term.offset[0]];
      if (k + 1 < last) term.next(summed);
    }
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(kThreads) sum_partials_in_order_kernel_v2(int64_t outputs, int64_t slices,
                                                                             const double* partials, double scale,
                                                                             float* y) {
  for (int64_t o = global_thread(); o < outputs; o += grid_threads()) {
    double sum = 0;
    for (int64_t s = 0; s < slices; ++s) sum += partials[o * slices + s];
    y[o] = static_cast<float>(scale * sum);
  }
}

unsigned grid_for(int64_t work_items) { return strided_blocks(work_items); }

template <typename I>
void sum_outputs_v1(const ReducePlan& plan, double scale, const float* x, float* y) {
  launch_kernel(sum_outputs_kernel_v1<I>, grid_for(plan.kept.numel), kThreads, 0, plan.kept, plan.summed, scale, x, y);
}

template <typename I>
void sum_slices_v2(const ReducePlan& plan, double scale, const float* x, float* y) {
  const int64_t outputs = plan.kept.numel, terms = plan.summed.numel;
  const int64_t wanted = std::max<int64_t>(1, kTargetBlocks / outputs);
  const int64_t slices = std::clamp<int64_t>((terms + kMinTermsPerSlice - 1) / kMinTermsPerSlice, 1, wanted);
  // A multiple of 4, so that slices start on a float4 when the runs allow quads.
  const int64_t per_slice = ((terms + slices - 1) / slices + 3) / 4 * 4;
  FER_CHECK(outputs * slices <= INT32_MAX) << "sum_forward: " << outputs << " outputs need more blocks than a grid holds";
  DeviceBuffer<double> partials(outputs * slices);
  const bool quads = plan.summed.dims[plan.summed.ndim - 1] % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  const unsigned blocks = static_cast<unsigned>(outputs * slices);
  launch_kernel(quads ? sum_slices_kernel_v2<I, true> : sum_slices_kernel_v2<I, false>, blocks, kThreads, 0, plan.kept,
                plan.summed, slices, per_slice, x, partials.get());
  launch_kernel(sum_partials_in_order_kernel_v2, grid_for(outputs), kThreads, 0, outputs, slices,
                static_cast<const double*>(partials.get()), scale, y);
}

struct BroadcastBack {
  const float* grad_y;
  float* grad_x;
  float scale;
  template <typename I>
  __device__ void operator()(I i, const I* at) const {
    grad_x[i] = scale * grad_y[at[0]];
  }
  template <typename I>
  __device__ void quad(I i, const I* at, const StridedShape<1>& s) const {
    const float4 g = gather4(grad_y + at[0], static_cast<I>(s.strides[0][s.ndim - 1]));
    *reinterpret_cast<float4*>(grad_x + i) = make_float4(scale * g.x, scale * g.y, scale * g.z, scale * g.w);
  }
};

}  // namespace

void set_reduce_variant(int variant) {
  FER_CHECK(variant == 1 || variant == 2) << "set_reduce_variant: variant " << variant << " (the reduce kernels have 1, 2)";
  selected_variant.store(variant);
}

int reduce_variant() { return selected_variant.load(); }

void sum_forward_cuda(const StridedShape<1>& shape, double scale, const float* x, float* y) {
  const ReducePlan plan = make_reduce_plan(shape);
  if (plan.kept.numel == 0) return;
  if (plan.summed.numel == 0) {  // an empty summed axis: every sum is 0 (the cursors divide by dims)
    device_memset_zero(y, sizeof(float) * static_cast<size_t>(plan.kept.numel));
    return;
  }
  const bool small = fits_int32(shape.numel);
  const bool summed_inner = plan.summed.strides[0][plan.summed.ndim - 1] == 1;
  // A block per output (slice) needs at least a term per thread to pay.
  if (selected_variant.load() == 2 && summed_inner && plan.summed.numel >= kThreads) {
    small ? sum_slices_v2<int32_t>(plan, scale, x, y) : sum_slices_v2<int64_t>(plan, scale, x, y);
  } else {
    small ? sum_outputs_v1<int32_t>(plan, scale, x, y) : sum_outputs_v1<int64_t>(plan, scale, x, y);
  }
}

// The scale is applied in float, as the CPU reference does.
void sum_backward_cuda(const StridedShape<1>& shape, double scale, const float* grad_y, float* grad_x) {
  const BroadcastBack body{grad_y, grad_x, static_cast<float>(scale)};
  if (selected_variant.load() == 2 && strided_quads_apply(shape, {grad_y, grad_x})) {
    for_each_strided_quad(shape, body);
  } else {
    for_each_strided(selected_variant.load(), shape, body);
  }
}

}  // namespace fer::FER_CUDA_NS
