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

#define FER_DECLARE_DEVICE_MEMORY_API                                                 \
  /* Returns device memory from the caching allocator; out of memory throws naming */ \
  /* the requested and the free bytes. */                                             \
  void* device_alloc(size_t bytes);                                                   \
  void device_free(void* ptr);                                                        \
  void copy_host_to_device(void* dst, const void* src, size_t bytes);                 \
  void copy_device_to_host(void* dst, const void* src, size_t bytes);                 \
  void copy_device_to_device(void* dst, const void* src, size_t bytes);               \
  void device_memset_zero(void* ptr, size_t bytes);                                   \
  void device_synchronize();                                                          \
  DeviceMemoryStats device_memory_stats();                                            \
  /* Returns every cached block to the device (cudaFree). */                          \
  void release_cached_device_memory();                                                \
  /* Off: exact sizes, every free a cudaFree (the cache is released). Default on, */  \
  /* off when the environment has FER_ALLOC_NO_CACHE=1. */                            \
  void set_device_memory_caching(bool enabled);                                       \
  void reset_peak_device_memory();                                                    \
  /* Page-locked host buffers (cudaMallocHost) for the data loader's batches. */      \
  void* pinned_host_alloc(size_t bytes);                                              \
  void pinned_host_free(void* ptr);                                                   \
  /* Returns at once; `src` (pinned) must stay unchanged until the stream passes */   \
  /* this copy, e.g. until the next device_synchronize(). */                          \
  void copy_pinned_host_to_device_async(void* dst, const void* src, size_t bytes);

namespace fer::cuda {
FER_DECLARE_DEVICE_MEMORY_API
}
namespace fer::cudasim {
FER_DECLARE_DEVICE_MEMORY_API
}
#undef FER_DECLARE_DEVICE_MEMORY_API
