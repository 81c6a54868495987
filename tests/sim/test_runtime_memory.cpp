// The CUDA backend's device memory on the simulator: the caching allocator (reuse, stats, out of
// memory, the mode without the cache), copies, and pinned host buffers.
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/device_memory.h"

namespace rt = fer::cudasim;

namespace {
constexpr size_t kDefaultSimCapacity = size_t{8} << 30;  // fersim's default device capacity

// Restores the simulated capacity even when a REQUIRE fails.
struct DeviceMemoryLimit {
  explicit DeviceMemoryLimit(size_t bytes) { fersim::set_device_memory_limit(bytes); }
  ~DeviceMemoryLimit() { fersim::set_device_memory_limit(kDefaultSimCapacity); }
};
}  // namespace

TEST_CASE("device_alloc reuses a freed block and keeps its stats", "[cuda-sim]") {
  rt::release_cached_device_memory();
  rt::reset_peak_device_memory();
  const fer::DeviceMemoryStats before = rt::device_memory_stats();
  REQUIRE(before.cached_bytes == 0);

  void* first = rt::device_alloc(1000);
  fer::DeviceMemoryStats stats = rt::device_memory_stats();
  CHECK(stats.allocated_bytes == before.allocated_bytes + 1024);  // rounded to 512 bytes
  CHECK(stats.device_malloc_calls == before.device_malloc_calls + 1);

  rt::device_free(first);
  stats = rt::device_memory_stats();
  CHECK(stats.allocated_bytes == before.allocated_bytes);
  CHECK(stats.cached_bytes == 1024);

  void* second = rt::device_alloc(900);  // same rounded size: the cached block comes back
  CHECK(second == first);
  stats = rt::device_memory_stats();
  CHECK(stats.device_malloc_calls == before.device_malloc_calls + 1);
  CHECK(stats.cached_bytes == 0);

  void* large = rt::device_alloc(3 << 20);  // no cached block fits: a new cudaMalloc
  CHECK(large != second);
  stats = rt::device_memory_stats();
  CHECK(stats.device_malloc_calls == before.device_malloc_calls + 2);
  CHECK(stats.peak_allocated_bytes == before.allocated_bytes + 1024 + (3 << 20));

  rt::device_free(large);
  rt::device_free(second);
  rt::release_cached_device_memory();
  CHECK(rt::device_memory_stats().cached_bytes == 0);
  CHECK(rt::device_memory_stats().peak_allocated_bytes == stats.peak_allocated_bytes);
}

TEST_CASE("without the cache, blocks have the exact size and a free returns them at once", "[cuda-sim]") {
  rt::set_device_memory_caching(false);
  struct CachingBack {
    ~CachingBack() { rt::set_device_memory_caching(true); }
  } caching_back;
  size_t free_before = 0, total = 0, free_now = 0;
  REQUIRE(fersim::cudaMemGetInfo(&free_before, &total) == fersim::cudaSuccess);
  const fer::DeviceMemoryStats before = rt::device_memory_stats();

  void* block = rt::device_alloc(1000);
  REQUIRE(fersim::cudaMemGetInfo(&free_now, &total) == fersim::cudaSuccess);
  CHECK(free_before - free_now == 1000);  // the device holds exactly the 1000 bytes asked for
  CHECK(rt::device_memory_stats().allocated_bytes == before.allocated_bytes + 1000);

  // An overrun of one float is caught where the simulator checks ranges (copies and memsets);
  // with the cache, the block's rounding to 1024 bytes would have hidden it.
  CHECK_THROWS_WITH(rt::device_memset_zero(block, 1004), Catch::Contains("cudaErrorInvalidValue"));
  rt::device_memset_zero(block, 1000);

  rt::device_free(block);
  REQUIRE(fersim::cudaMemGetInfo(&free_now, &total) == fersim::cudaSuccess);
  CHECK(free_now == free_before);
  CHECK(rt::device_memory_stats().cached_bytes == 0);
  void* again = rt::device_alloc(1000);  // nothing is reused: a new cudaMalloc
  CHECK(rt::device_memory_stats().device_malloc_calls == before.device_malloc_calls + 2);
  rt::device_free(again);
}

TEST_CASE("with the cache, an overrun into a block's rounding goes unnoticed", "[cuda-sim]") {
  void* block = rt::device_alloc(1000);
  rt::device_memset_zero(block, 1004);  // inside the 1024-byte block
  rt::device_free(block);
  rt::release_cached_device_memory();
}

TEST_CASE("device_alloc does not hand out a cached block far larger than asked", "[cuda-sim]") {
  rt::release_cached_device_memory();
  void* big = rt::device_alloc(4 << 20);
  rt::device_free(big);
  void* small = rt::device_alloc(4096);
  CHECK(small != big);
  CHECK(rt::device_memory_stats().cached_bytes == size_t{4} << 20);
  rt::device_free(small);
  rt::release_cached_device_memory();
}

TEST_CASE("device_free rejects a pointer it did not hand out", "[cuda-sim]") {
  int not_device_memory = 0;
  REQUIRE_THROWS_WITH(rt::device_free(&not_device_memory),
                      Catch::Contains("was not returned by device_alloc"));
}

TEST_CASE("device_alloc out of memory names the requested and the free bytes", "[cuda-sim]") {
  rt::release_cached_device_memory();
  const size_t in_use = rt::device_memory_stats().allocated_bytes;
  DeviceMemoryLimit limit(in_use + (size_t{64} << 20));
  try {
    rt::device_alloc(size_t{100} << 20);
    FAIL("device_alloc of 100 MiB succeeded on a 64 MiB device");
  } catch (const fer::Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("out of device memory"));
    CHECK_THAT(message, Catch::Contains(std::to_string(size_t{100} << 20) + " bytes"));
    size_t free_bytes = 0, total_bytes = 0;
    REQUIRE(fersim::cudaMemGetInfo(&free_bytes, &total_bytes) == fersim::cudaSuccess);
    CHECK_THAT(message, Catch::Contains(std::to_string(free_bytes) + " of " +
                                        std::to_string(total_bytes) + " bytes free"));
  }
  // The failed cudaMalloc must not linger as the last error (the next launch check would see it).
  CHECK(fersim::cudaGetLastError() == fersim::cudaSuccess);
}

TEST_CASE("device_alloc releases the cache and retries when the device is full", "[cuda-sim]") {
  rt::release_cached_device_memory();
  const size_t in_use = rt::device_memory_stats().allocated_bytes;
  DeviceMemoryLimit limit(in_use + (size_t{64} << 20));
  rt::device_free(rt::device_alloc(size_t{40} << 20));  // 40 MiB now cached
  REQUIRE(rt::device_memory_stats().cached_bytes == size_t{40} << 20);

  void* ptr = rt::device_alloc(size_t{50} << 20);  // fits only once the cache is released
  CHECK(rt::device_memory_stats().cached_bytes == 0);
  rt::device_free(ptr);
  rt::release_cached_device_memory();
}

TEST_CASE("copies round trip host -> device -> device -> host", "[cuda-sim]") {
  const size_t n = 1237;  // odd, not a multiple of any rounding
  std::vector<float> host(n);
  std::iota(host.begin(), host.end(), 0.5f);
  const size_t bytes = n * sizeof(float);
  void* a = rt::device_alloc(bytes);
  void* b = rt::device_alloc(bytes);

  rt::copy_host_to_device(a, host.data(), bytes);
  rt::copy_device_to_device(b, a, bytes);
  std::vector<float> back(n, -1.0f);
  rt::copy_device_to_host(back.data(), b, bytes);
  CHECK(back == host);

  rt::device_memset_zero(b, bytes);
  rt::copy_device_to_host(back.data(), b, bytes);
  CHECK(back == std::vector<float>(n, 0.0f));

  rt::device_free(a);
  rt::device_free(b);
}

TEST_CASE("pinned host buffers copy to the device asynchronously", "[cuda-sim]") {
  const size_t bytes = 333;
  auto* pinned = static_cast<unsigned char*>(rt::pinned_host_alloc(bytes));
  for (size_t i = 0; i < bytes; ++i) pinned[i] = static_cast<unsigned char>(i * 7);
  void* device = rt::device_alloc(bytes);
  rt::copy_pinned_host_to_device_async(device, pinned, bytes);
  rt::device_synchronize();
  std::vector<unsigned char> back(bytes);
  rt::copy_device_to_host(back.data(), device, bytes);
  CHECK(std::memcmp(back.data(), pinned, bytes) == 0);
  rt::device_free(device);
  rt::pinned_host_free(pinned);
}
