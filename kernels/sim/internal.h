// Declarations shared by the simulator's sources (not part of its public header, sim.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/sim/sim.h"

namespace fersim::detail {

// The simulated device: an H200's limits.
constexpr size_t kSharedMemPerBlock = 48 * 1024;          // without opting in; static shared memory's limit
constexpr size_t kSharedMemPerBlockOptin = 227 * 1024;    // cudaFuncAttributeMaxDynamicSharedMemorySize max
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535, 65535};

// Sets the calling thread's last error when `error` is not cudaSuccess; returns `error`.
cudaError_t record_error(cudaError_t error);

// What a kernel overwrote past the end of a device allocation since the last call (the guard after
// each allocation, kernels/sim/runtime_api.cpp); empty if nothing.
std::string overwritten_guard();

// Whether `stream` is the default stream or a live stream from cudaStreamCreate.
bool is_known_stream(cudaStream_t stream);

// One launch, as the block runners see it.
struct GridLaunch {
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
  size_t shared_limit;  // static + dynamic shared memory per block: 48 KiB, or 227 KiB opted in
  KernelBody body;
  ThreadOrder order;
  uint64_t seed;          // for ThreadOrder::Random, already mixed with the launch's number

  uint64_t block_count() const { return uint64_t{grid.x} * grid.y * grid.z; }
  unsigned threads_per_block() const { return block.x * block.y * block.z; }
};

// Whether the calling code runs as a CUDA thread of a block (inside a kernel).
bool in_kernel_thread();

// Runs block number `linear_block` of `launch` on the calling OS thread (each OS thread has its
// own runner, with its pool of fiber stacks). Returns an empty string, or what went wrong.
std::string run_block(const GridLaunch& launch, uint64_t linear_block);

}  // namespace fersim::detail
