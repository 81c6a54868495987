// Warp-level operations on the simulator: shuffles, votes, sub-warp masks, partial warps.
#include <vector>

#include "tests/sim/test_sim_support.h"

using namespace fersim;
using fersim::test::DeviceArray;
using fersim::test::SimDefaults;

namespace {

constexpr unsigned kFull = 0xffffffffu;

// Per-warp sums by __shfl_down_sync (lane 0 holds the sum) and by a __shfl_xor_sync butterfly
// (every lane holds it). Threads past n contribute zeros.
__global__ void warp_sum_kernel(const float* in, float* down_sums, float* xor_sums, int n) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned mask = __activemask();
  const float v = i < static_cast<unsigned>(n) ? in[i] : 0.0f;
  float down = v, butterfly = v;
  for (int offset = 16; offset > 0; offset /= 2) {
    down += __shfl_down_sync(mask, down, offset);
    butterfly += __shfl_xor_sync(mask, butterfly, offset);
  }
  const unsigned warps_per_block = (blockDim.x + warpSize - 1) / warpSize;
  if (threadIdx.x % warpSize == 0) down_sums[blockIdx.x * warps_per_block + threadIdx.x / warpSize] = down;
  xor_sums[i] = butterfly;
}

// Inclusive prefix sums within segments of `width` lanes, by __shfl_up_sync.
__global__ void segment_scan_kernel(const int* in, int* out, int width) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  const int lane_in_segment = static_cast<int>(threadIdx.x % warpSize) % width;
  int sum = in[i];
  for (int offset = 1; offset < width; offset *= 2) {
    const int up = __shfl_up_sync(kFull, sum, static_cast<unsigned>(offset), width);
    if (lane_in_segment >= offset) sum += up;
  }
  out[i] = sum;
}

// Every lane reads lane `source` of its segment (double: an 8-byte payload).
__global__ void broadcast_kernel(const double* in, double* out, int source, int width) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = __shfl_sync(kFull, in[i], source, width);
}

// Votes of the whole warp, and of its two halves with separate masks.
__global__ void vote_kernel(unsigned* ballots, int* any, int* all, unsigned* half_ballots) {
  const unsigned lane = threadIdx.x % warpSize;
  const unsigned warp = threadIdx.x / warpSize;
  ballots[warp] = __ballot_sync(kFull, lane % 3 == 0);
  any[2 * warp] = __any_sync(kFull, lane == 7);
  any[2 * warp + 1] = __any_sync(kFull, lane == 99);
  all[2 * warp] = __all_sync(kFull, lane < 32);
  all[2 * warp + 1] = __all_sync(kFull, lane != 7);
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  // The two halves vote on different predicates at different calls: each half is its own group.
  if (lane < 16) {
    half_ballots[2 * warp] = __ballot_sync(half, lane % 2 == 0);
  } else {
    __syncwarp(half);
    half_ballots[2 * warp + 1] = __ballot_sync(half, lane >= 30);
  }
}

__global__ void active_mask_kernel(unsigned* masks) {
  masks[blockIdx.x * blockDim.x + threadIdx.x] = __activemask();
}

}  // namespace

TEST_CASE("__shfl_down_sync and __shfl_xor_sync: warp sums over a ragged input", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Reversed, ThreadOrder::Random);
  set_thread_order(order, 17);
  const int threads = 96, blocks = 3, n = threads * blocks - 13;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i % 17) - 3.0f;
  const int warps_per_block = 3;
  DeviceArray<float> din(in), down(warps_per_block * blocks), butterfly(threads * blocks);
  launch(warp_sum_kernel, dim3(blocks), dim3(threads), 0, nullptr, din.get(), down.get(), butterfly.get(), n);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<float> down_sums = down.to_host(), xor_sums = butterfly.to_host();
  for (int b = 0; b < blocks; ++b) {
    for (int w = 0; w < warps_per_block; ++w) {
      const int first = b * threads + 32 * w, end = first + 32;
      float expected = 0;
      for (int i = first; i < std::min(end, n); ++i) expected += in[i];
      REQUIRE(down_sums[b * warps_per_block + w] == expected);
      for (int i = first; i < end; ++i) REQUIRE(xor_sums[i] == expected);
    }
  }
}

TEST_CASE("__shfl_up_sync: inclusive scans in segments of width lanes", "[cuda-sim]") {
  SimDefaults defaults;
  const int width = GENERATE(32, 8, 4);
  set_thread_order(ThreadOrder::Random, 2);
  const int threads = 96, blocks = 2, n = threads * blocks;
  std::vector<int> in(n);
  for (int i = 0; i < n; ++i) in[i] = (i * 7) % 11 - 5;
  DeviceArray<int> din(in), dout(n);
  launch(segment_scan_kernel, dim3(blocks), dim3(threads), 0, nullptr, din.get(), dout.get(), width);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<int> out = dout.to_host();
  for (int i = 0; i < n; ++i) {
    int expected = 0;
    for (int j = i - i % width; j <= i; ++j) expected += in[j];
    REQUIRE(out[i] == expected);
  }
}

TEST_CASE("__shfl_sync: broadcast from a source lane of each segment", "[cuda-sim]") {
  SimDefaults defaults;
  const int width = GENERATE(32, 16);
  const int source = GENERATE(0, 5, 37);  // 37: taken modulo the width, as CUDA does
  const int n = 64;
  std::vector<double> in(n);
  for (int i = 0; i < n; ++i) in[i] = 1.0 / (i + 1);
  DeviceArray<double> din(in), dout(n);
  launch(broadcast_kernel, dim3(1), dim3(n), 0, nullptr, din.get(), dout.get(), source, width);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<double> out = dout.to_host();
  for (int i = 0; i < n; ++i) REQUIRE(out[i] == in[i - i % width + source % width]);
}

TEST_CASE("__ballot_sync, __any_sync, __all_sync: whole warps and half-warp masks", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Random);
  set_thread_order(order, 4);
  const int warps = 3;
  DeviceArray<unsigned> ballots(warps), half_ballots(2 * warps);
  DeviceArray<int> any(2 * warps), all(2 * warps);
  launch(vote_kernel, dim3(1), dim3(32 * warps), 0, nullptr, ballots.get(), any.get(), all.get(), half_ballots.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  unsigned every_third = 0;
  for (unsigned lane = 0; lane < 32; lane += 3) every_third |= 1u << lane;
  for (int w = 0; w < warps; ++w) {
    REQUIRE(ballots.to_host()[w] == every_third);
    REQUIRE(any.to_host()[2 * w] == 1);
    REQUIRE(any.to_host()[2 * w + 1] == 0);
    REQUIRE(all.to_host()[2 * w] == 1);
    REQUIRE(all.to_host()[2 * w + 1] == 0);
    REQUIRE(half_ballots.to_host()[2 * w] == 0x5555u);
    REQUIRE(half_ballots.to_host()[2 * w + 1] == 0xc0000000u);
  }
}

TEST_CASE("__activemask: the lanes that exist in a partial warp", "[cuda-sim]") {
  SimDefaults defaults;
  const int threads = 40;  // one full warp and one of 8 lanes
  DeviceArray<unsigned> masks(threads);
  launch(active_mask_kernel, dim3(1), dim3(threads), 0, nullptr, masks.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<unsigned> host = masks.to_host();
  for (int t = 0; t < 32; ++t) REQUIRE(host[t] == 0xffffffffu);
  for (int t = 32; t < threads; ++t) REQUIRE(host[t] == 0xffu);
}
