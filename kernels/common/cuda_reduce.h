// Deterministic sums for the CUDA kernels (both builds): warp and block sums, and a two-pass sum
// of n terms over the whole device. Include from .cu files only, after kernels/runtime/cuda_api.h.
//
// Determinism: every order of summation is fixed by the thread layout alone (a shuffle tree in
// each warp, warp 0 over the warp totals, the first pass's grid a function of n only, the second
// pass one block), never by timing: no atomics. So the cpu, cuda-sim and GPU results of a kernel
// are the same from run to run (the GPU's may differ from the CPU's in the last bits).
// Partial sums are double: float sums over millions of terms would lose digits.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {

constexpr int kReduceThreads = 256;
constexpr int kReduceMaxBlocks = 1024;  // first-pass blocks: ~8 per SM of an H200

// Lane 0 gets the warp's total (the other lanes hold partial sums).
template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

// The block's total, returned to every thread; every thread of the block must call it.
// blockDim.x is a multiple of 32. Two barriers: a second call may follow at once (it writes
// scratch[0..31] only after every thread passed this call's second barrier, i.e. read scratch[32]).
__device__ inline double block_sum(double value) {
  FER_STATIC_SHARED(double[33], scratch);
  const unsigned lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  value = warp_sum(value);
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < blockDim.x / warpSize ? scratch[lane] : 0.0;
    value = warp_sum(value);
    if (lane == 0) scratch[32] = value;
  }
  __syncthreads();
  return scratch[32];
}

// Device scratch memory from the caching allocator, released when it goes out of scope (safe
// before the kernels that use it ran: every user of a block is ordered on the one stream).
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(int64_t count) : data_(static_cast<T*>(device_alloc(sizeof(T) * static_cast<size_t>(count)))) {}
  ~DeviceBuffer() { device_free(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return data_; }

 private:
  T* data_;
};

// First pass: block b sums term(i) for i = b*threads + t, stepping by the whole grid.
template <typename Term>
__global__ void __launch_bounds__(kReduceThreads) sum_terms_kernel(Term term, int64_t n, double* partials) {
  double sum = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) sum += term(i);
  sum = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// Second pass, one block: *out = scale * (sum of the partials).
template <typename Out>
__global__ void __launch_bounds__(kReduceThreads) sum_partials_kernel(const double* partials, int count, double scale,
                                                                      Out* out) {
  double sum = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *out = static_cast<Out>(scale * sum);
}

// *out = scale * sum_{i < n} term(i) on the device (out is device memory; n >= 1).
// Term: a copyable struct with `__device__ double operator()(int64_t i) const`.
template <typename Term, typename Out>
void sum_terms(const Term& term, int64_t n, double scale, Out* out) {
  const int blocks = static_cast<int>(std::min<int64_t>(blocks_for(n, kReduceThreads), kReduceMaxBlocks));
  DeviceBuffer<double> partials(blocks);
  launch_kernel(sum_terms_kernel<Term>, blocks, kReduceThreads, 0, term, n, partials.get());
  launch_kernel(sum_partials_kernel<Out>, 1, kReduceThreads, 0, partials.get(), blocks, scale, out);
}

}  // namespace fer::FER_CUDA_NS
