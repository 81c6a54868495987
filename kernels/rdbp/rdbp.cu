// The intra-class loss with RDBP on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the
// simulator). The math, the modes and what each output holds: rdbp.h; derivation: docs/kernels.md
// "rdbp". Everything stays on the device: no host synchronization in either direction.
//
// Forward, five launches:
//   1. plan (one block): per-class counts of real and synthetic rows (integer atomics, exact
//      whatever their order), which classes take the running center, has_center, and N.
//   2. class sums: a grid of (column block, row slice) blocks; a thread owns one feature column
//      of its slice and keeps one double per class for it in shared memory (only it touches
//      them: no barrier), reading the rows of its slice in order (coalesced across the
//      threads); it writes the slice's per-class sums to a workspace. Run for the real rows,
//      and in naive mode for the synthetic rows.
//   3. centers (one thread per (class, column)): adds the slices' sums in slice order, divides,
//      or copies the running center; updates the running center from the real sums.
//   4. loss: sum_terms (kernels/common/cuda_reduce.h), a fixed-order two-pass double sum of the
//      squared distances over all rows.
//   5. finish (one block): seen += counts, term_count = N, loss = sum / (2N).
// Every sum has an order fixed by the launch shape alone, so results are the same on every run.
// Labels cannot throw on the device: a label that is not a class index makes loss and
// term_count NaN (and so every gradient); the cpu version throws. The op checks the labels on
// the host first (engine/ops/rdbp.cpp), so this guards direct calls only.
//
// Backward: one thread per element (float4 when D % 4 == 0 and the arrays are 16-byte aligned):
// grad = (grad_loss / N) (x - c_label), 0 where the class has no center; OVERWRITES grad_real
// and grad_synth (either may be null).
#include <algorithm>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/rdbp/rdbp_cuda.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kSharedBytes = 48 * 1024;  // class sums per block, without opting in to more
constexpr int64_t kBlocksPerSm = 2;      // class-sum blocks wanted per SM of the device
constexpr int64_t kMinSliceRows = 16;

// The class of a label, or -1 when it is not an integer in [0, classes).
__device__ __forceinline__ int64_t class_of(float label, int64_t classes) {
  if (!(label >= 0.0f && label < static_cast<float>(classes)) || label != floorf(label)) return -1;
  return static_cast<int64_t>(label);
}

// The per-class plan, in one int buffer: [real_count K][synth_count K][uses_running K][terms][bad].
struct PlanView {
  int* base;
  int64_t classes;
  __device__ int* real_count() const { return base; }
  __device__ int* synth_count() const { return base + classes; }
  __device__ int* uses_running() const { return base + 2 * classes; }
  __device__ int* terms() const { return base + 3 * classes; }
  __device__ int* bad_label() const { return base + 3 * classes + 1; }
};

__device__ void count_labels(const float* labels, int64_t rows, PlanView plan, int* counts) {
  for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) {
    const int64_t k = class_of(labels[i], plan.classes);
    if (k < 0) {
      *plan.bad_label() = 1;  // every writer writes the same value
    } else {
      atomicAdd(counts + k, 1);
    }
  }
}

__global__ void __launch_bounds__(kThreads) rdbp_plan_kernel(RdbpShape s, const float* real_labels,
                                                             const float* synth_labels, const float* seen,
                                                             PlanView plan, float* has_center) {
  for (int64_t e = threadIdx.x; e < 3 * s.num_classes + 2; e += blockDim.x) plan.base[e] = 0;
  __syncthreads();
  count_labels(real_labels, s.num_real, plan, plan.real_count());
  count_labels(synth_labels, s.num_synth, plan, plan.synth_count());
  __syncthreads();
  for (int64_t k = threadIdx.x; k < s.num_classes; k += blockDim.x) {
    const int real = plan.real_count()[k], synth = plan.synth_count()[k];
    const bool uses_running = s.mode == RdbpMode::Rdbp && real == 0 && seen[k] > 0;
    const bool centered = s.mode == RdbpMode::Naive ? real + synth > 0 : real > 0 || uses_running;
    plan.uses_running()[k] = uses_running;
    has_center[k] = centered ? 1.0f : 0.0f;
  }
  __syncthreads();
  if (threadIdx.x == 0) {  // N, in class order
    int terms = 0;
    for (int64_t k = 0; k < s.num_classes; ++k)
      if (has_center[k] != 0.0f) terms += plan.real_count()[k] + plan.synth_count()[k];
    *plan.terms() = terms;
  }
}

// partials[(slice * K + k) * D + d] = sum of rows[i, d] over the slice's rows i of class k.
__global__ void rdbp_class_sums_kernel(const float* rows, const float* labels, int64_t num_rows, int64_t dim,
                                       int64_t classes, int64_t slice_rows, double* partials) {
  FER_DYNAMIC_SHARED(double, sums);  // sums[k * blockDim.x + threadIdx.x]: this thread's only
  const int64_t d = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (d >= dim) return;
  double* mine = sums + threadIdx.x;
  for (int64_t k = 0; k < classes; ++k) mine[k * blockDim.x] = 0;
  const int64_t r0 = blockIdx.y * slice_rows, r1 = std::min(num_rows, r0 + slice_rows);
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t k = class_of(labels[i], classes);
    if (k >= 0) mine[k * blockDim.x] += rows[i * dim + d];
  }
  for (int64_t k = 0; k < classes; ++k)
    partials[(static_cast<int64_t>(blockIdx.y) * classes + k) * dim + d] = mine[k * blockDim.x];
}

// Sum over the slices of partials at (k, d), in slice order.
__device__ __forceinline__ double slice_total(const double* partials, int64_t slices, int64_t classes, int64_t dim,
                                              int64_t k, int64_t d) {
  double total = 0;
  for (int64_t s = 0; s < slices; ++s) total += partials[(s * classes + k) * dim + d];
  return total;
}

__global__ void rdbp_centers_kernel(RdbpShape s, PlanView plan, const double* real_partials, int64_t real_slices,
                                    const double* synth_partials, int64_t synth_slices, float* running,
                                    const float* seen, float* centers) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= s.num_classes * s.dim) return;
  const int64_t k = e / s.dim, d = e % s.dim;
  const bool naive = s.mode == RdbpMode::Naive;
  const int real = plan.real_count()[k];
  const double real_sum = slice_total(real_partials, real_slices, s.num_classes, s.dim, k, d);
  const double synth_sum = naive ? slice_total(synth_partials, synth_slices, s.num_classes, s.dim, k, d) : 0.0;
  const double members = real + (naive ? plan.synth_count()[k] : 0);
  if (plan.uses_running()[k]) {
    centers[e] = running[e];
  } else {
    centers[e] = members > 0 ? static_cast<float>((real_sum + synth_sum) / members) : 0.0f;
  }
  if (s.update_running && real > 0) {
    const double first = seen[k] > 0 ? 1.0 - s.momentum : 0.0;  // first sighting: take the batch mean
    running[e] = static_cast<float>(first * running[e] + (1.0 - first) * (real_sum / real));
  }
}

// One squared distance term of the loss: element i of [real rows; synthetic rows].
struct SquaredDistance {
  const float *real, *real_labels, *synth, *synth_labels, *centers, *has_center;
  int64_t num_real, dim, classes;
  __device__ double operator()(int64_t i) const {
    const int64_t row = i / dim, d = i % dim;
    const bool is_real = row < num_real;
    const int64_t r = is_real ? row : row - num_real;
    const int64_t k = class_of(is_real ? real_labels[r] : synth_labels[r], classes);
    if (k < 0 || has_center[k] == 0.0f) return 0.0;
    const double diff = static_cast<double>(is_real ? real[r * dim + d] : synth[r * dim + d]) - centers[k * dim + d];
    return diff * diff;
  }
};

__global__ void rdbp_finish_kernel(RdbpShape s, PlanView plan, const double* squared_sum, float* seen, float* loss,
                                   float* term_count) {
  for (int64_t k = threadIdx.x; k < s.num_classes; k += blockDim.x)
    if (s.update_running) seen[k] += static_cast<float>(plan.real_count()[k]);
  if (threadIdx.x != 0) return;
  const int terms = *plan.terms();
  if (*plan.bad_label()) {
    *loss = *term_count = __int_as_float(0x7fc00000);  // NaN: see the file header
    return;
  }
  *term_count = static_cast<float>(terms);
  *loss = terms > 0 ? static_cast<float>(*squared_sum / (2.0 * terms)) : 0.0f;
}

// grad[i, d] = scale (x[i, d] - c[label_i, d]); 0 without a center; NaN for a bad label.
__device__ __forceinline__ float gradient_of(float x, float center, float scale) { return scale * (x - center); }

__device__ __forceinline__ float gradient_scale(const float* term_count, const float* grad_loss) {
  return *term_count > 0 ? *grad_loss / *term_count : 0.0f;
}

__global__ void rdbp_backward_kernel(const float* rows, const float* labels, int64_t num_rows, int64_t dim,
                                     int64_t classes, const float* centers, const float* has_center,
                                     const float* term_count, const float* grad_loss, float* grad) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= num_rows * dim) return;
  const int64_t row = e / dim, k = class_of(labels[row], classes);
  if (k < 0) {
    grad[e] = __int_as_float(0x7fc00000);
  } else {
    grad[e] = has_center[k] != 0.0f ? gradient_of(rows[e], centers[k * dim + e % dim], gradient_scale(term_count, grad_loss)) : 0.0f;
  }
}

// The same with float4: dim % 4 == 0, so a quad never spans two rows.
__global__ void rdbp_backward_kernel_vec4(const float* rows, const float* labels, int64_t num_rows, int64_t dim,
                                          int64_t classes, const float* centers, const float* has_center,
                                          const float* term_count, const float* grad_loss, float* grad) {
  const int64_t e = 4 * (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x);
  if (e >= num_rows * dim) return;
  const int64_t row = e / dim, k = class_of(labels[row], classes);
  float4 g = make_float4(0, 0, 0, 0);
  if (k < 0) {
    const float nan = __int_as_float(0x7fc00000);
    g = make_float4(nan, nan, nan, nan);
  } else if (has_center[k] != 0.0f) {
    const float scale = gradient_scale(term_count, grad_loss);
    const float4 x = *reinterpret_cast<const float4*>(rows + e);
    const float4 c = *reinterpret_cast<const float4*>(centers + k * dim + e % dim);
    g = make_float4(gradient_of(x.x, c.x, scale), gradient_of(x.y, c.y, scale), gradient_of(x.z, c.z, scale),
                    gradient_of(x.w, c.w, scale));
  }
  *reinterpret_cast<float4*>(grad + e) = g;
}

// ---- host side ---------------------------------------------------------------------------------

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The most slices class_sums may write for n rows (its workspace size): about kBlocksPerSm blocks
// per SM in all, each slice at least kMinSliceRows rows.
int64_t max_slices(int64_t num_rows, int64_t dim, int threads) {
  const int64_t target_blocks = kBlocksPerSm * multiprocessor_count();
  return std::clamp<int64_t>(std::min(ceil_div(target_blocks, ceil_div(dim, threads)), ceil_div(num_rows, kMinSliceRows)), 1, 65535);
}

// Per-class sums of one set of rows, in slices; returns the number of slices written.
int64_t class_sums(const float* rows, const float* labels, int64_t num_rows, const RdbpShape& s, double* partials,
                   int threads) {
  const int64_t column_blocks = ceil_div(s.dim, threads);
  const int64_t slices = max_slices(num_rows, s.dim, threads);
  const int64_t slice_rows = std::max<int64_t>(1, ceil_div(num_rows, slices));
  const int64_t used = std::max<int64_t>(1, ceil_div(num_rows, slice_rows));
  launch_kernel(rdbp_class_sums_kernel, dim3(static_cast<unsigned>(column_blocks), static_cast<unsigned>(used)),
                threads, static_cast<size_t>(threads) * s.num_classes * sizeof(double), rows, labels, num_rows, s.dim,
                s.num_classes, slice_rows, partials);
  return used;
}

void launch_backward(const float* rows, const float* labels, int64_t num_rows, const RdbpShape& s,
                     const float* centers, const float* has_center, const float* term_count, const float* grad_loss,
                     float* grad) {
  const int64_t n = num_rows * s.dim;
  if (s.dim % 4 == 0 && aligned16(rows) && aligned16(centers) && aligned16(grad)) {
    launch_kernel(rdbp_backward_kernel_vec4, blocks_for(n / 4, kThreads), kThreads, 0, rows, labels, num_rows, s.dim,
                  s.num_classes, centers, has_center, term_count, grad_loss, grad);
  } else {
    launch_kernel(rdbp_backward_kernel, blocks_for(n, kThreads), kThreads, 0, rows, labels, num_rows, s.dim,
                  s.num_classes, centers, has_center, term_count, grad_loss, grad);
  }
}

}  // namespace

void rdbp_forward_cuda(const RdbpShape& s, const float* real, const float* real_labels, const float* synth,
                       const float* synth_labels, float* running_centers, float* seen, float* centers,
                       float* has_center, float* loss, float* term_count) {
  FER_CHECK(s.num_real >= 0 && s.num_synth >= 0 && s.dim >= 0 && s.num_classes >= 1)
      << "intra_class_loss: real [" << s.num_real << ", " << s.dim << "], synthetic [" << s.num_synth << ", " << s.dim
      << "], " << s.num_classes << " classes";
  // Each thread keeps one double per class in shared memory: at least one warp per block.
  const int threads = static_cast<int>(std::min<int64_t>(kThreads, kSharedBytes / (8 * s.num_classes) / 32 * 32));
  FER_CHECK(threads >= 32) << "intra_class_loss: " << s.num_classes << " classes are more than the CUDA kernel's "
                           << kSharedBytes / (8 * 32) << " (per-class sums in shared memory)";
  const bool naive = s.mode == RdbpMode::Naive;
  DeviceBuffer<int> plan_buffer(3 * s.num_classes + 2);
  const PlanView plan{plan_buffer.get(), s.num_classes};
  launch_kernel(rdbp_plan_kernel, 1, kThreads, 0, s, real_labels, synth_labels, static_cast<const float*>(seen),
                plan, has_center);

  DeviceBuffer<double> real_partials(max_slices(s.num_real, s.dim, threads) * s.num_classes * std::max<int64_t>(1, s.dim));
  DeviceBuffer<double> synth_partials(naive ? max_slices(s.num_synth, s.dim, threads) * s.num_classes * std::max<int64_t>(1, s.dim) : 1);
  const int64_t real_slices = class_sums(real, real_labels, s.num_real, s, real_partials.get(), threads);
  const int64_t synth_slices = naive ? class_sums(synth, synth_labels, s.num_synth, s, synth_partials.get(), threads) : 0;
  launch_kernel(rdbp_centers_kernel, blocks_for(s.num_classes * s.dim, kThreads), kThreads, 0, s, plan,
                static_cast<const double*>(real_partials.get()), real_slices,
                static_cast<const double*>(synth_partials.get()), synth_slices, running_centers,
                static_cast<const float*>(seen), centers);

  DeviceBuffer<double> squared_sum(1);
  const int64_t elements = (s.num_real + s.num_synth) * s.dim;
  if (elements > 0) {
    sum_terms(SquaredDistance{real, real_labels, synth, synth_labels, centers, has_center, s.num_real, s.dim,
                              s.num_classes},
              elements, 1.0, squared_sum.get());
  } else {
    device_memset_zero(squared_sum.get(), sizeof(double));
  }
  launch_kernel(rdbp_finish_kernel, 1, kThreads, 0, s, plan, static_cast<const double*>(squared_sum.get()), seen,
                loss, term_count);
}

void rdbp_backward_cuda(const RdbpShape& s, const float* real, const float* real_labels, const float* synth,
                        const float* synth_labels, const float* centers, const float* has_center,
                        const float* term_count, const float* grad_loss, float* grad_real, float* grad_synth) {
  if (grad_real) launch_backward(real, real_labels, s.num_real, s, centers, has_center, term_count, grad_loss, grad_real);
  if (grad_synth)
    launch_backward(synth, synth_labels, s.num_synth, s, centers, has_center, term_count, grad_loss, grad_synth);
}

}  // namespace fer::FER_CUDA_NS
