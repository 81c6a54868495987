// The one launch helper for every kernel of the CUDA backend (both builds):
//
//   launch_kernel(my_kernel_v2, blocks_for(n, 256), 256, shared_bytes, x, y, n);
//
// runs `my_kernel_v2<<<grid, block, shared_bytes, current_stream()>>>(args...)` under nvcc, or
// ::fersim::launch(...) on the simulator, then checks cudaGetLastError(): a bad configuration
// (too many threads, too much shared memory, ...) throws fer::Error naming the configuration and
// the file and line of the launch_kernel call. A grid with no blocks (an empty tensor) launches
// nothing. Kernel errors that happen later, while the kernel runs, surface at the next checked
// synchronizing call (a copy to the host, device_synchronize()).
//
// Include only from .cu files (after cuda_api.h, which this includes) and from the simulator's tests.
#pragma once
#include <cstdint>
#include <source_location>
#include <utility>

#include "kernels/runtime/cuda_api.h"

namespace fer::FER_CUDA_NS {

// The backend's one stream: every kernel, copy and vendor-library call is ordered on it.
// Created on first use (non-blocking, so that it can be captured into a CUDA graph).
cudaStream_t current_stream();

// A grid, plus where it was given: the converting constructors run at the caller's line, so
// their defaulted std::source_location is the launch site named in launch errors.
struct LaunchGrid {
  dim3 blocks;
  std::source_location where;
  LaunchGrid(dim3 grid, std::source_location site = std::source_location::current())
      : blocks(grid), where(site) {}
  LaunchGrid(unsigned grid_x, std::source_location site = std::source_location::current())
      : blocks(grid_x), where(site) {}
};

// The device's multiprocessor count, queried once: grids meant to fill the GPU (split-K, batch
// splits) are sized from it. Kernels give correct results at any count; the split of a sum, and so
// its rounding, may differ between devices with different counts.
int multiprocessor_count();

// Blocks of `threads_per_block` threads that cover n elements (one element per thread).
inline unsigned blocks_for(int64_t n, int threads_per_block) {
  FER_CHECK(n >= 0 && threads_per_block > 0)
      << "blocks_for: n=" << n << ", threads_per_block=" << threads_per_block;
  const int64_t blocks = (n + threads_per_block - 1) / threads_per_block;
  FER_CHECK(blocks <= INT32_MAX) << "blocks_for: " << n << " elements need " << blocks
                                 << " blocks of " << threads_per_block
                                 << " threads, more than a 1-D grid holds (2^31-1)";
  return static_cast<unsigned>(blocks);
}

// Kernels that take more than 48 KiB of dynamic shared memory must say so once before launching.
template <class... Params>
void allow_dynamic_shared(void (*kernel)(Params...), size_t bytes) {
  FER_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(bytes)));
}

[[noreturn]] void throw_launch_error(cudaError_t status, const LaunchGrid& grid, dim3 block,
                                     size_t shared_bytes);

template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), LaunchGrid grid, dim3 block, size_t shared_bytes,
                   Args&&... args) {
  if (grid.blocks.x == 0 || grid.blocks.y == 0 || grid.blocks.z == 0) return;
#ifdef FER_CUDA_SIM
  ::fersim::launch(kernel, grid.blocks, block, shared_bytes, current_stream(),
                   std::forward<Args>(args)...);
#else
  kernel<<<grid.blocks, block, shared_bytes, current_stream()>>>(std::forward<Args>(args)...);
#endif
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) throw_launch_error(status, grid, block, shared_bytes);
}

}  // namespace fer::FER_CUDA_NS
