// Helpers for the simulator's own tests (tests/sim/test_sim_*.cpp).
#pragma once
#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

#include "kernels/sim/sim.h"

namespace fersim::test {

// Puts the simulator back in its default state (and clears errors other tests left), now and at
// the end of the test.
struct SimDefaults {
  SimDefaults() { reset(); }
  ~SimDefaults() { reset(); }
  static void reset() {
    set_thread_order(ThreadOrder::Sequential);
    set_worker_threads(1);
    set_device_memory_limit(size_t{8} << 30);
    set_multiprocessor_count(132);
    cudaGetLastError();
  }
};

// A device array initialized from (and read back into) a host vector.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(const std::vector<T>& host) : size_(host.size()) {
    REQUIRE(cudaMalloc(&data_, bytes()) == cudaSuccess);
    REQUIRE(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  explicit DeviceArray(size_t size, T value = T{}) : DeviceArray(std::vector<T>(size, value)) {}
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }
  size_t bytes() const { return size_ * sizeof(T); }
  std::vector<T> to_host() const {
    std::vector<T> host(size_);
    REQUIRE(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost) == cudaSuccess);
    return host;
  }

 private:
  T* data_ = nullptr;
  size_t size_;
};

}  // namespace fersim::test
