// Device-side walking of a StridedShape (kernels/elementwise/strided.h) for the CUDA kernels of
// the broadcasting ops: binary ops (elementwise.cu) and the broadcast back of a sum (reduce.cu).
// Include from .cu files only, after kernels/runtime/cuda_api.h.
//
// StridedCursor<N, I> holds the multi-index of flat element i and the offsets of its N operands.
// Building one costs a division per axis; next() moves to element i + 1 with an odometer step,
// which is what lets a thread that handles several consecutive elements pay the divisions once.
// I is the index type: int32_t whenever numel fits (64-bit division is several times slower on
// the GPU, and these kernels are otherwise bound by memory), int64_t otherwise.
//
// for_each_strided(variant, s, body) runs body(i, offsets) for every flat element i of s, where
// offsets[k] is operand k's offset; body writes its own outputs (one or two of them):
//   v1  grid-stride, one element per step, the cursor rebuilt for each element (the naive port);
//   v2  each thread takes kStridedChunk consecutive elements: one cursor build, then next(), and
//       32-bit index arithmetic when it fits.
// for_each_strided_quad(s, body) is v2's float4 form for an innermost axis of a multiple of 4
// elements (the common [N, C, H, W] op [1, C, 1, 1]): a quad of 4 outputs never crosses a run, so
// body.quad(i, offsets, s) reads each operand as one float4 (inner stride 1: aligned, since every
// offset is then a multiple of 4), one broadcast float (stride 0) or 4 strided floats, and
// writes a float4.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "kernels/elementwise/strided.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {

template <int N, typename I>
struct StridedCursor {
  I index[kMaxDims];
  I offset[N];

  __device__ __forceinline__ StridedCursor(const StridedShape<N>& s, I flat) {
    for (int k = 0; k < N; ++k) offset[k] = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      const I size = static_cast<I>(s.dims[d]);
      index[d] = flat % size;
      flat /= size;
      for (int k = 0; k < N; ++k) offset[k] += index[d] * static_cast<I>(s.strides[k][d]);
    }
  }

  __device__ __forceinline__ void next(const StridedShape<N>& s) {
    int d = s.ndim - 1;
    for (int k = 0; k < N; ++k) offset[k] += static_cast<I>(s.strides[k][d]);
    ++index[d];
    // Carry into the outer axes; only every dims[last]-th step gets here.
    while (d > 0 && index[d] == static_cast<I>(s.dims[d])) {
      for (int k = 0; k < N; ++k)
        offset[k] += static_cast<I>(s.strides[k][d - 1]) - static_cast<I>(s.dims[d] * s.strides[k][d]);
      index[d] = 0;
      ++index[--d];
    }
  }
};

// Whether every flat index and operand offset of s fits an int32_t (operand offsets never exceed
// the flat index range: each operand is no larger than the full shape).
inline bool fits_int32(int64_t numel) { return numel <= INT32_MAX; }

constexpr int kStridedThreads = 256;
constexpr int kStridedMaxBlocks = 2048;  // grid-stride beyond: ~2 waves of resident blocks on an H200
constexpr int kStridedChunk = 4;

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

template <int N, typename Body>
__global__ void __launch_bounds__(kStridedThreads) strided_kernel_v1(StridedShape<N> s, Body body) {
  for (int64_t i = global_thread(); i < s.numel; i += grid_threads()) {
    const StridedCursor<N, int64_t> at(s, i);
    body(i, at.offset);
  }
}

template <int N, typename I, typename Body>
__global__ void __launch_bounds__(kStridedThreads) strided_kernel_v2(StridedShape<N> s, Body body) {
  const I n = static_cast<I>(s.numel);
  const int64_t chunks = (s.numel + kStridedChunk - 1) / kStridedChunk;
  for (int64_t c = global_thread(); c < chunks; c += grid_threads()) {
    const I first = static_cast<I>(c * kStridedChunk);
    StridedCursor<N, I> at(s, first);
    const I last = first + kStridedChunk < n ? first + kStridedChunk : n;
    for (I i = first; i < last; ++i) {
      body(i, at.offset);
      if (i + 1 < last) at.next(s);
    }
  }
}

inline unsigned strided_blocks(int64_t work_items) {
  return std::min<unsigned>(blocks_for(work_items, kStridedThreads), kStridedMaxBlocks);
}

template <int N, typename I, typename Body>
__global__ void __launch_bounds__(kStridedThreads) strided_quad_kernel_v2(StridedShape<N> s, Body body) {
  const int64_t quads = s.numel / 4;
  for (int64_t q = global_thread(); q < quads; q += grid_threads()) {
    const StridedCursor<N, I> at(s, static_cast<I>(4 * q));
    body.quad(static_cast<I>(4 * q), at.offset, s);
  }
}

// The 4 floats at p, p + stride, p + 2 stride, p + 3 stride (p 16-byte aligned when stride is 1).
template <typename I>
__device__ __forceinline__ float4 gather4(const float* p, I stride) {
  if (stride == 1) return *reinterpret_cast<const float4*>(p);
  if (stride == 0) return make_float4(*p, *p, *p, *p);
  return make_float4(p[0], p[stride], p[2 * stride], p[3 * stride]);
}

// Whether for_each_strided_quad applies: inner axis a multiple of 4, every pointer 16-byte aligned.
template <int N>
bool strided_quads_apply(const StridedShape<N>& s, std::initializer_list<const void*> pointers) {
  if (s.dims[s.ndim - 1] % 4 != 0) return false;
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

template <int N, typename Body>
void for_each_strided_quad(const StridedShape<N>& s, const Body& body) {
  const unsigned blocks = strided_blocks(s.numel / 4);
  if (fits_int32(s.numel)) {
    launch_kernel(strided_quad_kernel_v2<N, int32_t, Body>, blocks, kStridedThreads, 0, s, body);
  } else {
    launch_kernel(strided_quad_kernel_v2<N, int64_t, Body>, blocks, kStridedThreads, 0, s, body);
  }
}

template <int N, typename Body>
void for_each_strided(int variant, const StridedShape<N>& s, const Body& body) {
  if (variant == 1) {
    launch_kernel(strided_kernel_v1<N, Body>, strided_blocks(s.numel), kStridedThreads, 0, s, body);
    return;
  }
  const unsigned blocks = strided_blocks((s.numel + kStridedChunk - 1) / kStridedChunk);
  if (fits_int32(s.numel)) {
    launch_kernel(strided_kernel_v2<N, int32_t, Body>, blocks, kStridedThreads, 0, s, body);
  } else {
    launch_kernel(strided_kernel_v2<N, int64_t, Body>, blocks, kStridedThreads, 0, s, body);
  }
}

}  // namespace fer::FER_CUDA_NS
