// GpuTimer, events and the device summary on the simulator.
#include <catch2/catch.hpp>

#include <cmath>

#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"
#include "kernels/runtime/runtime.h"

namespace fer::cudasim {
namespace {
__global__ void scale(float* data, float factor, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] *= factor;
}
}  // namespace
}  // namespace fer::cudasim

namespace rt = fer::cudasim;

TEST_CASE("GpuTimer measures the time of kernels on the stream", "[cuda-sim]") {
  const int n = 4099;
  auto* data = static_cast<float*>(rt::device_alloc(n * sizeof(float)));
  rt::device_memset_zero(data, n * sizeof(float));
  rt::GpuTimer timer;
  timer.start();
  for (int i = 0; i < 5; ++i) rt::launch_kernel(rt::scale, rt::blocks_for(n, 256), 256, 0, data, 2.0f, n);
  timer.stop();
  const double ms = timer.elapsed_ms();
  CHECK(std::isfinite(ms));
  CHECK(ms > 0.0);  // the simulator runs the kernels on the CPU between the two records: never free
  rt::device_free(data);
}

TEST_CASE("GpuTimer: elapsed_ms before start() was recorded throws", "[cuda-sim]") {
  rt::GpuTimer timer;
  timer.stop();
  CHECK_THROWS_AS(timer.elapsed_ms(), fer::Error);
  CHECK(fersim::cudaGetLastError() == fersim::cudaSuccess);
}

TEST_CASE("device_summary names the device and its memory", "[cuda-sim]") {
  const std::string summary = rt::device_summary();
  CHECK_THAT(summary, Catch::Contains("compute capability 9.0"));
  CHECK_THAT(summary, Catch::Contains("SMs"));
  CHECK_THAT(summary, Catch::Contains("GiB"));
}
