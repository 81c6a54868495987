// Device memory and copies for the CUDA backend, declared for both builds of the .cu sources
// (fer::cuda on a GPU, fer::cudasim on the simulator; see kernels/common/cuda_ns.h), so that plain
// C++ (the engine, benchmarks, the data loader) can call either without CUDA headers.
//
// device_alloc/device_free go through a caching allocator (kernels/runtime/device_memory.cu):
// freed blocks are kept and reused, which is safe without events because all work is ordered on
// the backend's one stream. Out of memory releases the cache and retries once, then throws naming
// the requested bytes and the free/total bytes reported by cudaMemGetInfo. For the memory checkers
// the cache can be turned off (set_device_memory_caching, or FER_ALLOC_NO_CACHE=1 in the
// environment): then every block has exactly the requested size and goes back to the device when
// it is freed.
// All copies are ordered on the one stream; copies from or to pageable host memory synchronize it
// (the host buffer may be reused on return); the pinned-buffer copy does not.
#pragma once
#include <cstddef>

namespace fer {

struct DeviceMemoryStats {
  size_t allocated_bytes = 0;       // in blocks handed out by device_alloc (rounded sizes; exact without the cache)
  size_t cached_bytes = 0;          // in freed blocks the allocator keeps for reuse
  size_t peak_allocated_bytes = 0;  // highest allocated_bytes since start or the last reset
  size_t device_malloc_calls = 0;   // cudaMalloc calls so far: a reused block makes none
};

}  // namespace fer

namespace fer::cuda {
#include "kernels/runtime/device_memory.inc"
}
namespace fer::cudasim {
#include "kernels/runtime/device_memory.inc"
}
