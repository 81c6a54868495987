// SGD and Adam on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the simulator), as one
// multi-tensor kernel launch over all parameters (PyTorch's multi_tensor_apply, llm.c's fused
// AdamW). Formulas and what is updated in place: optim.h.
//
// The slice table (per parameter: its pointers, its size, and for Adam the step-dependent
// scalars, computed on the host in double and cast to float as the cpu version does) travels as
// a kernel parameter, so a step needs no host-to-device copy and can be captured in a CUDA graph.
// It holds kMaxSlices parameters and stays under the classic 4 KB parameter limit; a longer list
// (no model of this project has one) takes one launch per kMaxSlices parameters.
// Work split: every parameter is cut into chunks of kChunk elements; block b finds its chunk by a
// binary search over the table's prefix sums of chunk counts, so one grid walks all parameters
// and a 64 MB tensor alone still spreads over thousands of blocks. A slice whose arrays are all
// 16-byte aligned is read and written with float4 (chunk starts are multiples of 4), its last
// size % 4 elements one by one; any other slice element by element.
// Each element's update is the cpu's sequence of float operations (nvcc may contract some of
// them into FMAs, so results agree with the cpu to rounding, not bit for bit).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/runtime/cuda_api.h"
#include "kernels/optim/optim_cuda.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 16 * kThreads;  // elements per block: 4 float4 per thread
constexpr int kMaxSlices = 64;

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- the per-element updates (optim.h) ---------------------------------------------------------

struct SgdDeviceSlice {
  float* param;
  const float* grad;
  float* momentum_buffer;  // null when momentum == 0
  int64_t size;
  bool vec;
};

struct SgdUpdate {
  using Slice = SgdDeviceSlice;
  float lr, momentum, weight_decay;
  bool nesterov, has_momentum;

  __device__ __forceinline__ void apply(float& param, float grad, float& buf) const {
    float g = grad;
    if (weight_decay != 0.0f) g = g + weight_decay * param;
    if (has_momentum) {
      buf = buf * momentum + g;
      g = nesterov ? g + momentum * buf : buf;
    }
    param = param + (-lr) * g;
  }
  __device__ __forceinline__ void one(const Slice& s, int64_t i) const {
    float buf = has_momentum ? s.momentum_buffer[i] : 0.0f;
    apply(s.param[i], s.grad[i], buf);
    if (has_momentum) s.momentum_buffer[i] = buf;
  }
  __device__ __forceinline__ void quad(const Slice& s, int64_t i) const {
    float4 p = *reinterpret_cast<float4*>(s.param + i);
    const float4 g = *reinterpret_cast<const float4*>(s.grad + i);
    float4 b = has_momentum ? *reinterpret_cast<float4*>(s.momentum_buffer + i) : make_float4(0, 0, 0, 0);
    apply(p.x, g.x, b.x), apply(p.y, g.y, b.y), apply(p.z, g.z, b.z), apply(p.w, g.w, b.w);
    *reinterpret_cast<float4*>(s.param + i) = p;
    if (has_momentum) *reinterpret_cast<float4*>(s.momentum_buffer + i) = b;
  }
};

struct AdamDeviceSlice {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t size;
  float neg_step_size;          // -lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  bool vec;
};

struct AdamUpdate {
  using Slice = AdamDeviceSlice;
  float one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;

  __device__ __forceinline__ void apply(const Slice& s, float& param, float grad, float& m, float& v) const {
    float g = grad;
    if (weight_decay != 0.0f) g = g + weight_decay * param;
    m = m + one_minus_beta1 * (g - m);
    v = v * beta2 + one_minus_beta2 * g * g;
    const float denom = sqrtf(v) / s.bias_correction2_sqrt + eps;
    param = param + s.neg_step_size * m / denom;
  }
  __device__ __forceinline__ void one(const Slice& s, int64_t i) const {
    apply(s, s.param[i], s.grad[i], s.exp_avg[i], s.exp_avg_sq[i]);
  }
  __device__ __forceinline__ void quad(const Slice& s, int64_t i) const {
    float4 p = *reinterpret_cast<float4*>(s.param + i);
    const float4 g = *reinterpret_cast<const float4*>(s.grad + i);
    float4 m = *reinterpret_cast<float4*>(s.exp_avg + i);
    float4 v = *reinterpret_cast<float4*>(s.exp_avg_sq + i);
    apply(s, p.x, g.x, m.x, v.x), apply(s, p.y, g.y, m.y, v.y);
    apply(s, p.z, g.z, m.z, v.z), apply(s, p.w, g.w, m.w, v.w);
    *reinterpret_cast<float4*>(s.param + i) = p;
    *reinterpret_cast<float4*>(s.exp_avg + i) = m;
    *reinterpret_cast<float4*>(s.exp_avg_sq + i) = v;
  }
};

// ---- the multi-tensor walk -------------------------------------------------------------------

template <class Slice>
struct SliceTable {
  Slice slices[kMaxSlices];
  int32_t first_chunk[kMaxSlices + 1];  // slice s owns the chunks [first_chunk[s], first_chunk[s+1])
  int count;
};
static_assert(sizeof(SliceTable<AdamDeviceSlice>) <= 4096, "the slice table must fit a 4 KB kernel parameter");

template <class Op>
__global__ void __launch_bounds__(kThreads) multi_tensor_kernel(SliceTable<typename Op::Slice> table, Op op) {
  const int chunk = static_cast<int>(blockIdx.x);
  int lo = 0, hi = table.count - 1;  // the last slice whose first chunk is <= this one
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.first_chunk[mid] <= chunk) lo = mid; else hi = mid - 1;
  }
  const typename Op::Slice& s = table.slices[lo];
  const int64_t begin = (chunk - table.first_chunk[lo]) * kChunk;
  const int64_t end = std::min(s.size, begin + kChunk);
  int64_t scalar_from = begin;
  if (s.vec) {
    scalar_from = begin + (end - begin) / 4 * 4;
    for (int64_t i = begin + 4 * threadIdx.x; i < scalar_from; i += 4 * blockDim.x) op.quad(s, i);
  }
  for (int64_t i = scalar_from + threadIdx.x; i < end; i += blockDim.x) op.one(s, i);
}

// Launches op over the device slices, kMaxSlices at a time; empty slices are left out.
template <class Op>
void for_all_slices(const std::vector<typename Op::Slice>& slices, const Op& op) {
  SliceTable<typename Op::Slice> table{};
  int64_t chunks = 0;
  auto flush = [&] {
    if (table.count == 0) return;
    table.first_chunk[table.count] = static_cast<int32_t>(chunks);
    launch_kernel(multi_tensor_kernel<Op>, static_cast<unsigned>(chunks), kThreads, 0, table, op);
    table = {};
    chunks = 0;
  };
  for (const auto& s : slices) {
    if (s.size == 0) continue;
    const int64_t slice_chunks = (s.size + kChunk - 1) / kChunk;
    FER_CHECK(slice_chunks < INT32_MAX / 2) << "optimizer step: a parameter of " << s.size << " elements is too large";
    if (table.count == kMaxSlices || chunks + slice_chunks > INT32_MAX / 2) flush();
    table.slices[table.count] = s;
    table.first_chunk[table.count++] = static_cast<int32_t>(chunks);
    chunks += slice_chunks;
  }
  flush();
}

void check_slice(int64_t s, int64_t size, const void* param, const void* grad, const char* op) {
  FER_CHECK(size >= 0) << op << ": slice " << s << " has size " << size;
  FER_CHECK(size == 0 || (param && grad)) << op << ": slice " << s << " of size " << size
                                          << " lacks its parameter or gradient pointer";
}

}  // namespace

void sgd_update_cuda(const SgdSlice<float>* slices, int64_t count, const SgdHyper& h) {
  const SgdUpdate op{static_cast<float>(h.lr), static_cast<float>(h.momentum), static_cast<float>(h.weight_decay),
                     h.nesterov, h.momentum != 0};
  std::vector<SgdDeviceSlice> table;
  for (int64_t s = 0; s < count; ++s) {
    const SgdSlice<float>& in = slices[s];
    check_slice(s, in.size, in.param, in.grad, "sgd_update");
    FER_CHECK(!op.has_momentum || in.size == 0 || in.momentum_buffer)
        << "sgd_update: slice " << s << " has no momentum buffer but momentum is " << h.momentum;
    table.push_back({in.param, in.grad, in.momentum_buffer, in.size,
                     aligned16(in.param) && aligned16(in.grad) && aligned16(in.momentum_buffer)});
  }
  for_all_slices(table, op);
}

void adam_update_cuda(const AdamSlice<float>* slices, int64_t count, const AdamHyper& h) {
  const AdamUpdate op{static_cast<float>(1 - h.beta1), static_cast<float>(h.beta2), static_cast<float>(1 - h.beta2),
                      static_cast<float>(h.eps), static_cast<float>(h.weight_decay)};
  std::vector<AdamDeviceSlice> table;
  for (int64_t s = 0; s < count; ++s) {
    const AdamSlice<float>& in = slices[s];
    check_slice(s, in.size, in.param, in.grad, "adam_update");
    FER_CHECK(in.size == 0 || (in.exp_avg && in.exp_avg_sq)) << "adam_update: slice " << s << " lacks its moment buffers";
    FER_CHECK(in.step >= 1) << "adam_update: slice " << s << " has step " << in.step << " (counted from 1)";
    const auto t = static_cast<double>(in.step);
    table.push_back({in.param, in.grad, in.exp_avg, in.exp_avg_sq, in.size,
                     static_cast<float>(-h.lr / (1 - std::pow(h.beta1, t))),
                     static_cast<float>(std::sqrt(1 - std::pow(h.beta2, t))),
                     aligned16(in.param) && aligned16(in.grad) && aligned16(in.exp_avg) && aligned16(in.exp_avg_sq)});
  }
  for_all_slices(table, op);
}

}  // namespace fer::FER_CUDA_NS
