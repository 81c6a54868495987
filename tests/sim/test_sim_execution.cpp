// The simulator's execution model: grids, indices, shared memory, barriers, thread orders,
// worker threads, kernel failures.
#include <numeric>
#include <stdexcept>
#include <vector>

#include "tests/sim/test_sim_support.h"

using namespace fersim;
using fersim::test::DeviceArray;
using fersim::test::SimDefaults;

namespace {

__global__ void add_kernel(const float* a, const float* b, float* c, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) c[i] = a[i] + b[i];
}

// Every thread of a 3-D grid of 3-D blocks marks its global position once.
__global__ void mark_positions_kernel(int* visits, int* bad_index, int width, int height, int depth) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned y = blockIdx.y * blockDim.y + threadIdx.y;
  const unsigned z = blockIdx.z * blockDim.z + threadIdx.z;
  if (threadIdx.x >= blockDim.x || blockIdx.x >= gridDim.x || blockIdx.z >= gridDim.z) atomicAdd(bad_index, 1);
  if (x < static_cast<unsigned>(width) && y < static_cast<unsigned>(height) && z < static_cast<unsigned>(depth)) {
    atomicAdd(&visits[(z * height + y) * width + x], 1);
  }
}

constexpr int kTile = 16;

// out (cols x rows) = transpose of in (rows x cols), through a padded shared tile.
__global__ void transpose_kernel(const float* in, float* out, int rows, int cols) {
  FERSIM_SHARED(float[kTile][kTile + 1], tile);
  int col = static_cast<int>(blockIdx.x * kTile + threadIdx.x);
  int row = static_cast<int>(blockIdx.y * kTile + threadIdx.y);
  if (row < rows && col < cols) tile[threadIdx.y][threadIdx.x] = in[row * cols + col];
  __syncthreads();
  col = static_cast<int>(blockIdx.y * kTile + threadIdx.x);
  row = static_cast<int>(blockIdx.x * kTile + threadIdx.y);
  if (row < cols && col < rows) out[row * rows + col] = tile[threadIdx.x][threadIdx.y];
}

// Per-block sums of `in` by a tree reduction in shared memory (blockDim.x a power of two).
__global__ void block_sum_kernel(const int* in, int* block_sums, int n) {
  FERSIM_SHARED(int[256], partial);
  const unsigned tid = threadIdx.x;
  const unsigned i = blockIdx.x * blockDim.x + tid;
  partial[tid] = i < static_cast<unsigned>(n) ? in[i] : 0;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (tid < stride) partial[tid] += partial[tid + stride];
    __syncthreads();
  }
  if (tid == 0) block_sums[blockIdx.x] = partial[0];
}

// out[i] = in[i - 1] within each block (the first thread of a block writes its own value),
// through shared memory. Without the barrier a thread may read its neighbour's slot before the
// neighbour wrote it.
template <bool kWithBarrier>
__global__ void shift_kernel(const int* in, int* out) {
  FERSIM_SHARED(int[1024], slots);
  const unsigned tid = threadIdx.x;
  const unsigned i = blockIdx.x * blockDim.x + tid;
  slots[tid] = in[i];
  if (kWithBarrier) __syncthreads();
  out[i] = slots[tid == 0 ? 0 : tid - 1];
}

// Reverses each block's slice through dynamic shared memory.
__global__ void reverse_kernel(const float* in, float* out) {
  float* buffer = dynamic_shared<float>();
  const unsigned tid = threadIdx.x;
  const unsigned base = blockIdx.x * blockDim.x;
  buffer[tid] = in[base + tid];
  __syncthreads();
  out[base + tid] = buffer[blockDim.x - 1 - tid];
}

__global__ void use_big_dynamic_shared_kernel(int* out) {
  char* buffer = dynamic_shared<char>();
  buffer[100 * 1024 - 1] = 7;
  __syncthreads();
  if (threadIdx.x == 0) *out = buffer[100 * 1024 - 1];
}

// Threads of the upper half of each block leave early; the others keep meeting at barriers.
__global__ void early_exit_kernel(int* out) {
  FERSIM_SHARED(int[64], value);
  const unsigned tid = threadIdx.x;
  if (tid >= blockDim.x / 2) return;
  value[tid] = static_cast<int>(tid);
  __syncthreads();
  const int neighbour = value[(tid + 1) % (blockDim.x / 2)];
  __syncthreads();
  out[blockIdx.x * blockDim.x + tid] = neighbour;
}

// Each thread draws a ticket: the position at which it ran its first phase.
__global__ void ticket_kernel(int* counter, int* tickets) {
  tickets[threadIdx.x] = atomicAdd(counter, 1);
}

// Lanes 0-15 shuffle over the full warp while lanes 16-31 wait at the barrier: a deadlock.
__global__ void deadlock_kernel(float* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1.0f, 0);
  } else {
    __syncthreads();
  }
}

__global__ void throwing_kernel(int* out) {
  if (threadIdx.x == 3) throw std::runtime_error("thrown inside a kernel");
  out[threadIdx.x] = 1;
}

// A deep local array, to exercise the fiber stacks.
__global__ void deep_stack_kernel(int* out) {
  volatile int local[8192];
  for (int i = 0; i < 8192; ++i) local[i] = i + static_cast<int>(threadIdx.x);
  int sum = 0;
  for (int i = 0; i < 8192; i += 1024) sum += local[i];
  out[threadIdx.x] = sum;
}

std::vector<int> iota_vector(size_t n, int first = 0) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

}  // namespace

TEST_CASE("launch: vector add over a ragged grid", "[cuda-sim]") {
  SimDefaults defaults;
  const int n = 1001;  // 11 blocks of 96: the last one is partly out of range
  std::vector<float> a(n), b(n);
  for (int i = 0; i < n; ++i) {
    a[i] = 0.5f * static_cast<float>(i);
    b[i] = static_cast<float>(3 * i + 1);
  }
  DeviceArray<float> da(a), db(b), dc(n + 5, -1.0f);
  launch(add_kernel, dim3((n + 95) / 96), dim3(96), 0, nullptr, da.get(), db.get(), dc.get(), n);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<float> c = dc.to_host();
  for (int i = 0; i < n; ++i) REQUIRE(c[i] == a[i] + b[i]);
  for (int i = n; i < n + 5; ++i) REQUIRE(c[i] == -1.0f);  // threads past n wrote nothing
}

TEST_CASE("launch: 3-D grids and blocks give every thread its own position", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Reversed, ThreadOrder::Random);
  const int workers = GENERATE(1, 3);
  set_thread_order(order, 11);
  set_worker_threads(workers);
  const int width = 19, height = 7, depth = 5;
  DeviceArray<int> visits(width * height * depth), bad(1);
  launch(mark_positions_kernel, dim3(3, 2, 2), dim3(7, 5, 3), 0, nullptr, visits.get(), bad.get(), width, height,
         depth);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (int v : visits.to_host()) REQUIRE(v == 1);
  REQUIRE(bad.to_host()[0] == 0);
}

TEST_CASE("__syncthreads: shared-memory tiled transpose", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Reversed, ThreadOrder::Random);
  const int workers = GENERATE(1, 3);
  set_thread_order(order, 5);
  set_worker_threads(workers);
  const int rows = 37, cols = 53;
  std::vector<float> in(rows * cols);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i) * 0.25f;
  DeviceArray<float> din(in), dout(rows * cols);
  launch(transpose_kernel, dim3((cols + kTile - 1) / kTile, (rows + kTile - 1) / kTile), dim3(kTile, kTile), 0,
         nullptr, din.get(), dout.get(), rows, cols);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<float> out = dout.to_host();
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) REQUIRE(out[c * rows + r] == in[r * cols + c]);
  }
}

TEST_CASE("__syncthreads: tree reduction in shared memory", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Reversed, ThreadOrder::Random);
  set_thread_order(order, 3);
  const int n = 1337, threads = 128, blocks = (n + threads - 1) / threads;
  const std::vector<int> in = iota_vector(n, -500);
  DeviceArray<int> din(in), dsums(blocks);
  launch(block_sum_kernel, dim3(blocks), dim3(threads), 0, nullptr, din.get(), dsums.get(), n);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<int> sums = dsums.to_host();
  for (int b = 0; b < blocks; ++b) {
    int expected = 0;
    for (int i = b * threads; i < std::min(n, (b + 1) * threads); ++i) expected += in[i];
    REQUIRE(sums[b] == expected);
  }
}

TEST_CASE("__syncthreads: threads that exited do not hold the barrier", "[cuda-sim]") {
  SimDefaults defaults;
  const int threads = 64, blocks = 3;
  DeviceArray<int> out(threads * blocks, -1);
  launch(early_exit_kernel, dim3(blocks), dim3(threads), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<int> host = out.to_host();
  for (int b = 0; b < blocks; ++b) {
    for (int t = 0; t < threads / 2; ++t) REQUIRE(host[b * threads + t] == (t + 1) % (threads / 2));
    for (int t = threads / 2; t < threads; ++t) REQUIRE(host[b * threads + t] == -1);
  }
}

TEST_CASE("ThreadOrder::Random catches a missing __syncthreads", "[cuda-sim]") {
  SimDefaults defaults;
  const int threads = 100, blocks = 7, n = threads * blocks;
  const std::vector<int> in = iota_vector(n, 1000);
  std::vector<int> expected(n);
  for (int i = 0; i < n; ++i) expected[i] = in[i % threads == 0 ? i : i - 1];
  DeviceArray<int> din(in);
  auto run = [&](void (*kernel)(const int*, int*)) {
    DeviceArray<int> dout(n);
    launch(kernel, dim3(blocks), dim3(threads), 0, nullptr, din.get(), dout.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    return dout.to_host() == expected;
  };
  SECTION("with the barrier the kernel is right in every order") {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      set_thread_order(ThreadOrder::Random, seed);
      REQUIRE(run(shift_kernel<true>));
    }
    set_thread_order(ThreadOrder::Reversed);
    REQUIRE(run(shift_kernel<true>));
  }
  SECTION("without it, sequential order hides the bug and random order exposes it") {
    set_thread_order(ThreadOrder::Sequential);
    REQUIRE(run(shift_kernel<false>));
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      set_thread_order(ThreadOrder::Random, seed);
      REQUIRE_FALSE(run(shift_kernel<false>));
    }
  }
}

TEST_CASE("ThreadOrder: sequential and reversed are fixed, random is reproducible from its seed", "[cuda-sim]") {
  SimDefaults defaults;
  const int threads = 200;
  auto tickets = [&](ThreadOrder order, uint64_t seed) {
    set_thread_order(order, seed);
    DeviceArray<int> counter(1), dtickets(threads);
    launch(ticket_kernel, dim3(1), dim3(threads), 0, nullptr, counter.get(), dtickets.get());
    REQUIRE(cudaGetLastError() == cudaSuccess);
    return dtickets.to_host();
  };
  const std::vector<int> sequential = iota_vector(threads);
  std::vector<int> reversed(sequential.rbegin(), sequential.rend());
  REQUIRE(tickets(ThreadOrder::Sequential, 0) == sequential);
  REQUIRE(tickets(ThreadOrder::Sequential, 9) == sequential);
  REQUIRE(tickets(ThreadOrder::Reversed, 0) == reversed);
  const std::vector<int> random = tickets(ThreadOrder::Random, 42);
  REQUIRE(random != sequential);
  REQUIRE(random != reversed);
  REQUIRE(tickets(ThreadOrder::Random, 42) == random);
  REQUIRE(tickets(ThreadOrder::Random, 43) != random);
}

TEST_CASE("dynamic shared memory: each block gets the launch's buffer", "[cuda-sim]") {
  SimDefaults defaults;
  const ThreadOrder order = GENERATE(ThreadOrder::Sequential, ThreadOrder::Random);
  const int workers = GENERATE(1, 2);
  set_thread_order(order, 8);
  set_worker_threads(workers);
  const int threads = 77, blocks = 9, n = threads * blocks;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i) - 0.5f;
  DeviceArray<float> din(in), dout(n);
  launch(reverse_kernel, dim3(blocks), dim3(threads), threads * sizeof(float), nullptr, din.get(), dout.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<float> out = dout.to_host();
  for (int b = 0; b < blocks; ++b) {
    for (int t = 0; t < threads; ++t) REQUIRE(out[b * threads + t] == in[b * threads + threads - 1 - t]);
  }
}

TEST_CASE("dynamic shared memory over 48 KiB needs cudaFuncSetAttribute", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<int> out(1);
  const size_t bytes = 100 * 1024;
  launch(use_big_dynamic_shared_kernel, dim3(1), dim3(32), bytes, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(out.to_host()[0] == 0);  // nothing ran
  REQUIRE(cudaFuncSetAttribute(use_big_dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(bytes)) == cudaSuccess);
  launch(use_big_dynamic_shared_kernel, dim3(1), dim3(32), bytes, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(out.to_host()[0] == 7);
  // Beyond what an H200 block may opt in to (227 KiB).
  REQUIRE(cudaFuncSetAttribute(use_big_dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               228 * 1024) == cudaErrorInvalidValue);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);
}

TEST_CASE("launch: configuration errors are reported through the last error", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<float> a(4), c(4);
  auto launch_add = [&](dim3 grid, dim3 block) {
    launch(add_kernel, grid, block, 0, nullptr, a.get(), a.get(), c.get(), 0);
    return cudaGetLastError();
  };
  REQUIRE(launch_add(dim3(1), dim3(1025)) == cudaErrorInvalidConfiguration);
  REQUIRE(launch_add(dim3(1), dim3(64, 32)) == cudaErrorInvalidConfiguration);  // 2048 threads
  REQUIRE(launch_add(dim3(1), dim3(1, 1, 65)) == cudaErrorInvalidConfiguration);
  REQUIRE(launch_add(dim3(1), dim3(0)) == cudaErrorInvalidConfiguration);
  REQUIRE(launch_add(dim3(0), dim3(32)) == cudaErrorInvalidConfiguration);
  REQUIRE(launch_add(dim3(1, 65536), dim3(32)) == cudaErrorInvalidConfiguration);
  REQUIRE(launch_add(dim3(1), dim3(1024)) == cudaSuccess);
  REQUIRE(launch_add(dim3(1), dim3(32, 32)) == cudaSuccess);

  // The last error stays until it is read: peeking keeps it, getting clears it.
  launch(add_kernel, dim3(1), dim3(2048), 0, nullptr, a.get(), a.get(), c.get(), 0);
  REQUIRE(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  REQUIRE(cudaGetLastError() == cudaSuccess);

  auto* unknown_stream = reinterpret_cast<cudaStream_t>(&defaults);
  launch(add_kernel, dim3(1), dim3(32), 0, unknown_stream, a.get(), a.get(), c.get(), 0);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidResourceHandle);
}

TEST_CASE("launch: a deadlock or an exception in a kernel fails the launch", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<float> out(32);
  DeviceArray<int> ints(32);
  launch(deadlock_kernel, dim3(2), dim3(32), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  launch(throwing_kernel, dim3(1), dim3(32), 0, nullptr, ints.get());
  REQUIRE(cudaGetLastError() == cudaErrorLaunchFailure);
  // The simulator goes on working after a failed launch.
  DeviceArray<float> a(std::vector<float>(32, 2.0f));
  launch(add_kernel, dim3(1), dim3(32), 0, nullptr, a.get(), a.get(), out.get(), 32);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (float v : out.to_host()) REQUIRE(v == 4.0f);
}

TEST_CASE("launch: kernels with deep stacks run on the fiber stacks", "[cuda-sim]") {
  SimDefaults defaults;
  DeviceArray<int> out(64);
  launch(deep_stack_kernel, dim3(1), dim3(64), 0, nullptr, out.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const std::vector<int> host = out.to_host();
  for (int t = 0; t < 64; ++t) REQUIRE(host[t] == 28672 + 8 * t);  // sum of i*1024 for i<8, plus 8t
}
