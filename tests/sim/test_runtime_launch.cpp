// The CUDA backend's check macro and launch helper on the simulator: error messages name the
// expression (or the launch configuration), the error, and the file and line of the call.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/kernel_choice.h"
#include "kernels/runtime/launch.h"

namespace fer::cudasim {
namespace {

__global__ void fill_index(float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = static_cast<float>(i);
}

// Reverses each block's slice through dynamic shared memory.
__global__ void reverse_in_block(const float* in, float* out) {
  FER_DYNAMIC_SHARED(float, tile);
  const unsigned base = blockIdx.x * blockDim.x;
  tile[threadIdx.x] = in[base + threadIdx.x];
  __syncthreads();
  out[base + threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

std::vector<float> run_fill(int n, int threads) {
  auto* out = static_cast<float*>(device_alloc(n * sizeof(float)));
  device_memset_zero(out, n * sizeof(float));
  launch_kernel(fill_index, blocks_for(n, threads), threads, 0, out, n);
  std::vector<float> host(n);
  copy_device_to_host(host.data(), out, n * sizeof(float));
  device_free(out);
  return host;
}

}  // namespace
}  // namespace fer::cudasim

namespace rt = fer::cudasim;

TEST_CASE("FER_CUDA_CHECK names the expression, the error, the file and the line", "[cuda-sim]") {
  void* ptr = nullptr;
  const int line = __LINE__ + 2;
  try {
    FER_CUDA_CHECK(fersim::cudaMalloc(&ptr, size_t{1} << 62));
    FAIL("a 4 EiB cudaMalloc succeeded");
  } catch (const fer::Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("CUDA call failed: fersim::cudaMalloc(&ptr, size_t{1} << 62)"));
    CHECK_THAT(message, Catch::Contains("cudaErrorMemoryAllocation"));
    CHECK_THAT(message, Catch::Contains("test_runtime_launch.cpp:" + std::to_string(line)));
  }
  CHECK(fersim::cudaGetLastError() == fersim::cudaSuccess);  // a reported error is cleared
}

TEST_CASE("FER_CUDA_CHECK passes a successful call", "[cuda-sim]") {
  int device = -1;
  FER_CUDA_CHECK(fersim::cudaGetDevice(&device));
  CHECK(device == 0);
}

TEST_CASE("launch_kernel runs a 1-D grid that covers n elements", "[cuda-sim]") {
  const int n = 1001;  // not a multiple of the block
  const std::vector<float> out = rt::run_fill(n, 128);
  for (int i = 0; i < n; ++i) REQUIRE(out[i] == static_cast<float>(i));
  CHECK(rt::blocks_for(n, 128) == 8);
  CHECK(rt::blocks_for(0, 128) == 0);
  CHECK_THROWS_WITH(rt::blocks_for(-1, 128), Catch::Contains("blocks_for: n=-1"));
}

TEST_CASE("launch_kernel launches nothing for an empty grid", "[cuda-sim]") {
  CHECK(rt::run_fill(0, 64).empty());
  CHECK(fersim::cudaGetLastError() == fersim::cudaSuccess);
}

TEST_CASE("launch_kernel reports a bad configuration as an exception", "[cuda-sim]") {
  auto* out = static_cast<float*>(rt::device_alloc(4096 * sizeof(float)));
  const int line = __LINE__ + 2;
  try {
    rt::launch_kernel(rt::fill_index, 2, 2048, 0, out, 4096);  // over 1024 threads per block
    FAIL("a launch with 2048 threads per block succeeded");
  } catch (const fer::Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("kernel launch failed (grid 2x1x1, block 2048x1x1, 0 bytes"));
    // (The name of the error differs: cudaErrorInvalidValue on an H200 with CUDA 13.)
    CHECK_THAT(message, Catch::Contains("cudaError"));
    CHECK_THAT(message, Catch::Contains("test_runtime_launch.cpp:" + std::to_string(line)));
  }
  // The error was consumed: the next launch works.
  rt::launch_kernel(rt::fill_index, 4, 1024, 0, out, 4096);
  rt::device_synchronize();
  rt::device_free(out);
}

TEST_CASE("launch_kernel passes dynamic shared memory (FER_DYNAMIC_SHARED)", "[cuda-sim]") {
  const int threads = 97, blocks = 3, n = threads * blocks;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i) host[i] = static_cast<float>(i);
  auto* in = static_cast<float*>(rt::device_alloc(n * sizeof(float)));
  auto* out = static_cast<float*>(rt::device_alloc(n * sizeof(float)));
  rt::copy_host_to_device(in, host.data(), n * sizeof(float));
  rt::launch_kernel(rt::reverse_in_block, blocks, threads, threads * sizeof(float), in, out);
  std::vector<float> back(n);
  rt::copy_device_to_host(back.data(), out, n * sizeof(float));
  for (int b = 0; b < blocks; ++b) {
    for (int t = 0; t < threads; ++t) REQUIRE(back[b * threads + t] == host[b * threads + threads - 1 - t]);
  }
  rt::device_free(in);
  rt::device_free(out);
}

TEST_CASE("launch_kernel rejects dynamic shared memory over the limit until it is allowed", "[cuda-sim]") {
  const size_t bytes = 64 * 1024;  // over the default 48 KiB
  auto* buffer = static_cast<float*>(rt::device_alloc(bytes));
  CHECK_THROWS_WITH(rt::launch_kernel(rt::reverse_in_block, 1, 32, bytes, buffer, buffer),
                    Catch::Contains("65536 bytes of dynamic shared memory"));
  rt::allow_dynamic_shared(rt::reverse_in_block, bytes);
  rt::launch_kernel(rt::reverse_in_block, 1, 32, bytes, buffer, buffer);
  rt::device_free(buffer);
}

TEST_CASE("launch_kernel: without the allocator's cache, a write one float past a tensor fails", "[cuda-sim]") {
  const int n = 37;
  auto run_overrun = [&] {
    auto* out = static_cast<float*>(rt::device_alloc(n * sizeof(float)));
    struct Free {
      float* ptr;
      ~Free() { rt::device_free(ptr); }
    } free_out{out};
    rt::launch_kernel(rt::fill_index, 1, 64, 0, out, n + 1);
  };
  run_overrun();  // with the cache: the write lands in the block's rounding, unseen
  rt::set_device_memory_caching(false);
  try {
    run_overrun();
    FAIL("the overrun was not caught");
  } catch (const fer::Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("cudaErrorLaunchFailure"));
    CHECK_THAT(message, Catch::Contains("bytes up to 4 past the end of the 148-byte allocation"));
  }
  rt::set_device_memory_caching(true);
}

TEST_CASE("set_kernel_choice: the simulator refuses vendor libraries", "[cuda-sim]") {
  CHECK_THROWS_WITH(rt::set_kernel_choice("conv", fer::KernelChoice::Vendor),
                    Catch::Contains("vendor libraries (cuDNN/cuBLAS) are not simulated"));
  rt::set_kernel_choice("all", fer::KernelChoice::Native);
  CHECK(rt::kernel_choice("gemm") == fer::KernelChoice::Native);
  CHECK_THROWS_WITH(rt::kernel_choice("pool"), Catch::Contains("unknown kernel family 'pool'"));
  CHECK(fer::parse_kernel_choice("vendor") == fer::KernelChoice::Vendor);
  CHECK_THROWS_WITH(fer::parse_kernel_choice("cudnn"), Catch::Contains("known: native, vendor"));
}
