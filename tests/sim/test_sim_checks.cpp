// The simulator's checks of what would fail or be undefined on a GPU: misaligned vector accesses,
// shared memory over the block's limit, shared memory read before it is written (poisoned in
// every block), shuffles from lanes that have exited or take no part, writes past the end of an
// allocation. Each check has a kernel that
// breaks the rule, which must fail its launch with a message naming the fault, and one that keeps
// it, which must pass.
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/test_sim_support.h"

using namespace fersim;
using fersim::test::DeviceArray;
using fersim::test::SimDefaults;

namespace {

// Sums each float4 of in + offset: misaligned for an offset that is not a multiple of 4.
__global__ void float4_load_kernel(const float* in, int offset, float* out) {
  const float4 v = reinterpret_cast<const float4*>(in + offset)[threadIdx.x];
  out[threadIdx.x] = v.x + v.y + v.z + v.w;
}

// Stores a float2 at out + offset + 2 * thread: misaligned for an odd offset.
__global__ void float2_store_kernel(float* out, int offset) {
  reinterpret_cast<float2*>(out + offset)[threadIdx.x] = make_float2(1.0f, 2.0f);
}

// 32 KiB of static shared memory, plus `second` more in a second variable.
template <int kSecondFloats>
__global__ void static_shared_kernel(float* out) {
  FERSIM_SHARED(float[8192], first);
  first[threadIdx.x] = 1.0f;
  float total = first[threadIdx.x];
  if constexpr (kSecondFloats > 0) {
    FERSIM_SHARED(float[kSecondFloats], second);
    second[threadIdx.x] = 2.0f;
    total += second[threadIdx.x];
  }
  out[threadIdx.x] = total;
}

// 32 KiB static beside the launch's dynamic shared memory.
__global__ void static_and_dynamic_shared_kernel(float* out) {
  FERSIM_SHARED(float[8192], tile);
  float* dynamic = dynamic_shared<float>();
  tile[threadIdx.x] = 1.0f;
  dynamic[threadIdx.x] = 2.0f;
  out[threadIdx.x] = tile[threadIdx.x] + dynamic[threadIdx.x];
}

// Thread 0 of every block records the bits of static and dynamic shared memory before it writes
// them, then overwrites them: a block that saw the previous block's values would record those.
__global__ void first_read_kernel(unsigned* static_bits, unsigned* dynamic_bits) {
  FERSIM_SHARED(float[4], tile);
  float* dynamic = dynamic_shared<float>();
  if (threadIdx.x != 0) return;
  std::memcpy(&static_bits[blockIdx.x], &tile[3], sizeof(unsigned));
  std::memcpy(&dynamic_bits[blockIdx.x], &dynamic[3], sizeof(unsigned));
  tile[3] = 1.0f;
  dynamic[3] = 1.0f;
}

// The lower half-warp shuffles from lane `source` over `mask`; the upper half exits first when
// `upper_exits`, else waits at its own __syncwarp.
__global__ void half_warp_shuffle_kernel(unsigned mask, int source, bool upper_exits, float* out) {
  const unsigned lane = threadIdx.x % warpSize;
  if (lane >= 16) {
    if (upper_exits) return;
    __syncwarp(0xffff0000u);
    return;
  }
  out[lane] = __shfl_sync(mask, static_cast<float>(lane), source);
}

// A warp sum by __shfl_down_sync over every lane of the block's warp; the launch has `threads`
// threads, so with fewer than 32 the sources past the last thread do not exist.
__global__ void warp_sum_kernel(float* out) {
  float value = 1.0f;
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  if (threadIdx.x == 0) *out = value;
}

__global__ void fill_kernel(float* out, int n) {
  if (static_cast<int>(threadIdx.x) < n) out[threadIdx.x] = 1.0f;
}

// The failure of the last launch, which must have failed.
std::string launch_failure() {
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  return last_launch_failure();
}

}  // namespace

TEST_CASE("checks: a misaligned float4 load or float2 store fails the launch", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<float> in(std::vector<float>(70, 0.5f)), out(64);
  SECTION("a float4 load") {
    launch(float4_load_kernel, dim3(1), dim3(16), 0, nullptr, in.get(), 4, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[15] == 2.0f);
    launch(float4_load_kernel, dim3(1), dim3(16), 0, nullptr, in.get(), 1, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("misaligned address"));
    CHECK_THAT(failure, Catch::Contains("struct float4'"));
    CHECK_THAT(failure, Catch::Contains("16-byte alignment"));
    CHECK_THAT(failure, Catch::Contains("tests/sim/test_sim_checks.cpp:"));  // file and line of the load
    CHECK_THAT(failure, Catch::Contains("thread (0,0,0)"));
  }
  SECTION("a float2 store") {
    launch(float2_store_kernel, dim3(1), dim3(16), 0, nullptr, out.get(), 2);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    launch(float2_store_kernel, dim3(1), dim3(16), 0, nullptr, out.get(), 3);
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("store to misaligned address"));
    CHECK_THAT(failure, Catch::Contains("struct float2'"));
    CHECK_THAT(failure, Catch::Contains("8-byte alignment"));
  }
}

TEST_CASE("checks: static shared memory counts against the 48 KiB block limit, with the dynamic", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<float> out(64);
  SECTION("static alone: 32 KiB pass, 32 + 20 KiB fail") {
    launch(static_shared_kernel<0>, dim3(2), dim3(64), 0, nullptr, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[63] == 1.0f);
    launch(static_shared_kernel<4096>, dim3(2), dim3(64), 0, nullptr, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[63] == 3.0f);
    launch(static_shared_kernel<5120>, dim3(2), dim3(64), 0, nullptr, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("shared memory over the block's limit: 53248 bytes of static shared memory"));
    CHECK_THAT(failure, Catch::Contains("20480-byte variable"));
  }
  SECTION("static + dynamic: 32 + 16 KiB pass, 32 + 20 KiB fail unless the kernel opted in") {
    launch(static_and_dynamic_shared_kernel, dim3(2), dim3(64), 16 * 1024, nullptr, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[0] == 3.0f);
    launch(static_and_dynamic_shared_kernel, dim3(2), dim3(64), 20 * 1024, nullptr, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("32768 bytes of static shared memory"));
    CHECK_THAT(failure, Catch::Contains("20480 bytes of dynamic shared memory"));
    CHECK_THAT(failure, Catch::Contains("static + dynamic 49152 bytes"));
    REQUIRE(cudaFuncSetAttribute(static_and_dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 64 * 1024) == cudaSuccess);
    launch(static_and_dynamic_shared_kernel, dim3(2), dim3(64), 64 * 1024, nullptr, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
  }
}

TEST_CASE("checks: static and dynamic shared memory hold NaN bytes at the start of every block", "[cuda-sim]") {
  SimDefaults defaults;
  const int workers = GENERATE(1, 3);
  set_worker_threads(workers);
  const int blocks = 9;
  DeviceArray<unsigned> static_bits(blocks), dynamic_bits(blocks);
  for (int launches = 0; launches < 2; ++launches) {
    launch(first_read_kernel, dim3(blocks), dim3(8), 4 * sizeof(float), nullptr, static_bits.get(),
           dynamic_bits.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    for (unsigned bits : static_bits.to_host()) REQUIRE(bits == 0xffffffffu);
    for (unsigned bits : dynamic_bits.to_host()) REQUIRE(bits == 0xffffffffu);
  }
}

TEST_CASE("checks: a shuffle from a lane that has exited, does not exist or takes no part fails", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<float> out(32);
  SECTION("a source inside the group passes") {
    launch(half_warp_shuffle_kernel, dim3(1), dim3(32), 0, nullptr, 0x0000ffffu, 5, true, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[0] == 5.0f);
    launch(warp_sum_kernel, dim3(1), dim3(32), 0, nullptr, out.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    REQUIRE(out.to_host()[0] == 32.0f);
  }
  SECTION("an exited lane") {
    launch(half_warp_shuffle_kernel, dim3(1), dim3(32), 0, nullptr, 0xffffffffu, 20, true, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("shuffles from lane 20, which has exited"));
  }
  SECTION("a lane that does not exist") {
    launch(warp_sum_kernel, dim3(1), dim3(24), 0, nullptr, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("which does not exist (the warp has 24 lanes)"));
  }
  SECTION("a live lane outside the mask") {
    launch(half_warp_shuffle_kernel, dim3(1), dim3(32), 0, nullptr, 0x0000ffffu, 20, false, out.get());
    const std::string failure = launch_failure();
    CHECK_THAT(failure, Catch::Contains("which is not in the shuffle's group (mask 0xffff"));
  }
}

TEST_CASE("checks: a kernel that writes past the end of an allocation fails", "[cuda-sim]") {
  SimDefaults defaults;
  float* out = nullptr;
  REQUIRE(cudaMalloc(&out, 10 * sizeof(float)) == cudaSuccess);
  launch(fill_kernel, dim3(1), dim3(32), 0, nullptr, out, 10);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  launch(fill_kernel, dim3(1), dim3(32), 0, nullptr, out, 11);
  CHECK_THAT(launch_failure(), Catch::Contains("bytes up to 4 past the end of the 40-byte allocation"));
  launch(fill_kernel, dim3(1), dim3(32), 0, nullptr, out, 10);  // reported once, then the guard is whole again
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(cudaFree(out) == cudaSuccess);
}
