// Atomics from many blocks, on one and on several OS threads, and the determinism of
// ThreadOrder::Sequential.
#include <vector>

#include "tests/sim/test_sim_support.h"

using namespace fersim;
using fersim::test::DeviceArray;
using fersim::test::SimDefaults;

namespace {

struct Counters {
  int count;
  unsigned ucount;
  unsigned long long big;
  float fsum;
  double dsum;
  int down;
  unsigned udown;
  int max;
  int min;
  unsigned umax;
  unsigned umin;
  int cas_count;
  int exchanged;
};

__global__ void atomics_kernel(Counters* c) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(&c->count, 1);
  atomicAdd(&c->ucount, 2u);
  atomicAdd(&c->big, 1ull << 33);
  atomicAdd(&c->fsum, 1.0f);  // exact: the total stays below 2^24
  atomicAdd(&c->dsum, 0.5);
  atomicSub(&c->down, 1);
  atomicSub(&c->udown, 1u);
  atomicMax(&c->max, (i * 7919) % 10007);
  atomicMin(&c->min, (i * 7919) % 10007 - 5000);
  atomicMax(&c->umax, static_cast<unsigned>(i));
  atomicMin(&c->umin, static_cast<unsigned>(i) + 3u);
  // An increment through a compare-and-swap loop, as kernels build other atomics.
  int old = c->cas_count, assumed;
  do {
    assumed = old;
    old = atomicCAS(&c->cas_count, assumed, assumed + 1);
  } while (old != assumed);
  atomicExch(&c->exchanged, 42);
}

__global__ void float_sum_kernel(const float* in, float* total, int n) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < static_cast<unsigned>(n)) atomicAdd(total, in[i]);
}

}  // namespace

TEST_CASE("atomics: every kind from many blocks", "[cuda-sim]") {
  SimDefaults defaults;
  const int workers = GENERATE(1, 4);
  set_worker_threads(workers);
  const int blocks = 257, threads = 97, n = blocks * threads;
  Counters init{};
  init.down = n;
  init.udown = static_cast<unsigned>(n);
  init.max = -1;
  init.min = 1 << 30;
  init.umin = ~0u;
  DeviceArray<Counters> c(std::vector<Counters>{init});
  launch(atomics_kernel, dim3(blocks), dim3(threads), 0, nullptr, c.get());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  const Counters r = c.to_host()[0];
  int expected_max = -1, expected_min = 1 << 30;
  for (int i = 0; i < n; ++i) {
    expected_max = std::max(expected_max, (i * 7919) % 10007);
    expected_min = std::min(expected_min, (i * 7919) % 10007 - 5000);
  }
  CHECK(r.count == n);
  CHECK(r.ucount == 2u * n);
  CHECK(r.big == (1ull << 33) * n);
  CHECK(r.fsum == static_cast<float>(n));
  CHECK(r.dsum == 0.5 * n);
  CHECK(r.down == 0);
  CHECK(r.udown == 0u);
  CHECK(r.max == expected_max);
  CHECK(r.min == expected_min);
  CHECK(r.umax == static_cast<unsigned>(n - 1));
  CHECK(r.umin == 3u);
  CHECK(r.cas_count == n);
  CHECK(r.exchanged == 42);
}

TEST_CASE("ThreadOrder::Sequential: float atomics give the same bits on every run", "[cuda-sim]") {
  SimDefaults defaults;
  const int n = 5003;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = 0.1f * static_cast<float>(i % 97) - 3.3f;  // order-dependent rounding
  DeviceArray<float> din(in);
  auto sum = [&] {
    DeviceArray<float> total(1);
    launch(float_sum_kernel, dim3((n + 127) / 128), dim3(128), 0, nullptr, din.get(), total.get(), n);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    return total.to_host()[0];
  };
  float host = 0;
  for (float v : in) host += v;  // the same order as sequential blocks of sequential threads
  const float first = sum();
  REQUIRE(std::bit_cast<uint32_t>(first) == std::bit_cast<uint32_t>(host));
  for (int run = 0; run < 3; ++run) REQUIRE(std::bit_cast<uint32_t>(sum()) == std::bit_cast<uint32_t>(first));
  // Random order is reproducible from its seed too, though its sum rounds differently.
  set_thread_order(ThreadOrder::Random, 77);
  const float shuffled = sum();
  set_thread_order(ThreadOrder::Random, 77);
  REQUIRE(std::bit_cast<uint32_t>(sum()) == std::bit_cast<uint32_t>(shuffled));
}
