// The caching device allocator, copies and pinned host buffers (both builds).
//
// Allocation: requests are rounded up (512 B up to 1 MiB, 128 KiB above) so that tensors of
// nearly equal size share blocks; a request takes the smallest cached block of at least its
// rounded size and at most 5/4 of it (best fit, bounded waste), else a new cudaMalloc. Freed
// blocks return to the cache, not to the device: reusing one without waiting is safe because
// every kernel and copy runs on the one stream, in order, so the next user of the block runs
// after the last user of its previous owner. Blocks are never split or merged.
// Out of memory: the cache is released (after a stream synchronize) and cudaMalloc retried once.
// Without the cache (set_device_memory_caching(false), or FER_ALLOC_NO_CACHE=1 in the environment
// when the allocator starts): every request is one cudaMalloc of exactly its size and every free
// one cudaFree at once, so that compute-sanitizer and the simulator's AddressSanitizer build see
// an access past a tensor's end, which the rounding and reuse of cached blocks would hide.
// One mutex guards the allocator: tensors may be freed on any host thread.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kSmallRounding = 512;
constexpr size_t kLargeRounding = size_t{128} << 10;

size_t rounded_size(size_t bytes) {
  const size_t unit = bytes <= kSmallLimit ? kSmallRounding : kLargeRounding;
  return std::max<size_t>(1, (bytes + unit - 1) / unit) * unit;  // 0 bytes still gets a block
}

bool caching_requested_by_environment() {
  const char* no_cache = std::getenv("FER_ALLOC_NO_CACHE");
  return no_cache == nullptr || std::strcmp(no_cache, "1") != 0;
}

class CachingAllocator {
 public:
  void* allocate(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t size = caching_ ? rounded_size(bytes) : std::max<size_t>(bytes, 1);
    void* ptr = caching_ ? take_cached_block(size) : nullptr;
    if (!ptr) ptr = malloc_with_retry(bytes, size);
    live_blocks_.emplace(ptr, size);
    stats_.allocated_bytes += size;
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    return ptr;
  }

  void free(void* ptr) {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_blocks_.find(ptr);
    FER_CHECK(it != live_blocks_.end())
        << "device_free: " << ptr << " was not returned by device_alloc (or was freed twice)";
    const size_t size = it->second;
    live_blocks_.erase(it);
    stats_.allocated_bytes -= size;
    if (caching_) {
      free_blocks_.emplace(size, ptr);
      stats_.cached_bytes += size;
    } else {
      FER_CUDA_CHECK(cudaFree(ptr));
    }
  }

  void set_caching(bool enabled) {
    std::lock_guard<std::mutex> lock(mutex_);
    caching_ = enabled;
    if (!enabled) release_cache_locked();
  }

  void release_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cache_locked();
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

 private:
  void* take_cached_block(size_t size) {
    const auto it = free_blocks_.lower_bound(size);
    if (it == free_blocks_.end() || it->first > size + size / 4) return nullptr;
    void* ptr = it->second;
    stats_.cached_bytes -= it->first;
    free_blocks_.erase(it);
    return ptr;
  }

  void* malloc_with_retry(size_t requested, size_t size) {
    void* ptr = nullptr;
    if (try_malloc(&ptr, size)) return ptr;
    release_cache_locked();
    if (try_malloc(&ptr, size)) return ptr;
    size_t free_bytes = 0, total_bytes = 0;
    FER_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    FER_THROW() << "out of device memory: device_alloc of " << requested << " bytes (" << size
                << " rounded) failed; the device has " << free_bytes << " of " << total_bytes
                << " bytes free; this allocator holds " << stats_.allocated_bytes
                << " bytes in live tensors (its cache was released before the retry)";
  }

  // False on out-of-memory; any other error throws.
  bool try_malloc(void** ptr, size_t size) {
    const cudaError_t status = cudaMalloc(ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it, or the next launch check would report it
      return false;
    }
    FER_CUDA_CHECK(status);
    ++stats_.device_malloc_calls;
    return true;
  }

  void release_cache_locked() {
    if (free_blocks_.empty()) return;
    // Work queued before the blocks were freed may still use them.
    FER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    for (const auto& [size, ptr] : free_blocks_) FER_CUDA_CHECK(cudaFree(ptr));
    free_blocks_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;      // size -> block, for best fit
  std::unordered_map<void*, size_t> live_blocks_;  // block -> size
  DeviceMemoryStats stats_;
  bool caching_ = caching_requested_by_environment();
};

// Never destroyed: tensors in static objects may be freed after it would have been.
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

void copy_and_wait(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, current_stream()));
  FER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

}  // namespace

void* device_alloc(size_t bytes) { return allocator().allocate(bytes); }
void device_free(void* ptr) { allocator().free(ptr); }
DeviceMemoryStats device_memory_stats() { return allocator().stats(); }
void release_cached_device_memory() { allocator().release_cache(); }
void set_device_memory_caching(bool enabled) { allocator().set_caching(enabled); }
void reset_peak_device_memory() { allocator().reset_peak(); }

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  copy_and_wait(dst, src, bytes, cudaMemcpyHostToDevice);
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  copy_and_wait(dst, src, bytes, cudaMemcpyDeviceToHost);
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, current_stream()));
}

void device_memset_zero(void* ptr, size_t bytes) {
  FER_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, current_stream()));
}

void* pinned_host_alloc(size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMallocHost(&ptr, bytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    FER_THROW() << "pinned_host_alloc: cudaMallocHost of " << bytes
                << " bytes failed: " << cudaGetErrorString(status);
  }
  return ptr;
}

void pinned_host_free(void* ptr) {
  if (ptr) FER_CUDA_CHECK(cudaFreeHost(ptr));
}

void copy_pinned_host_to_device_async(void* dst, const void* src, size_t bytes) {
  FER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, current_stream()));
}

}  // namespace fer::FER_CUDA_NS
