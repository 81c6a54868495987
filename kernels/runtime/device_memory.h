// Device memory and copies for the CUDA backend, declared for both builds of the .cu sources
// (fer::cuda on a GPU, fer::cudasim on the simulator; see kernels/common/cuda_ns.h).
// All copies are ordered on the backend's one stream; copies to the host synchronize it.
#pragma once
#include <cstddef>

#define FER_DECLARE_DEVICE_MEMORY_API                                                 \
  /* Returns device memory from the caching allocator; out of memory throws naming */ \
  /* the requested and the free bytes. */                                             \
  void* device_alloc(size_t bytes);                                                   \
  void device_free(void* ptr);                                                        \
  void copy_host_to_device(void* dst, const void* src, size_t bytes);                 \
  void copy_device_to_host(void* dst, const void* src, size_t bytes);                 \
  void copy_device_to_device(void* dst, const void* src, size_t bytes);               \
  void device_memset_zero(void* ptr, size_t bytes);                                   \
  void device_synchronize();

namespace fer::cuda {
FER_DECLARE_DEVICE_MEMORY_API
}
namespace fer::cudasim {
FER_DECLARE_DEVICE_MEMORY_API
}
#undef FER_DECLARE_DEVICE_MEMORY_API
