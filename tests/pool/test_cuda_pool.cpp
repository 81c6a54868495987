// max_pool2d, avg_pool2d, global_avg_pool on cuda-sim (and cuda): forward and backward against
// the cpu path at odd sizes, with padding, overlapping windows and ties (one variant each: see
// kernels/pool/pool.cu).
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  t.set_requires_grad();
  return t;
}

// Few distinct values: many windows hold tied maxima (the first in row-major order wins).
Tensor tied_param(const Shape& shape) {
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 7) % 5);
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad();
  return t;
}

struct Window {
  int kernel, stride, padding;
};

}  // namespace

FER_CUDA_TEST_CASE("max_pool2d matches the cpu", "[pool]") {
  for (const Window w : {Window{2, 2, 0}, Window{3, 2, 1}, Window{3, 1, 1}}) {
    INFO("kernel " << w.kernel << " stride " << w.stride << " padding " << w.padding);
    auto f = [w](const std::vector<Tensor>& in) { return max_pool2d(in[0], w.kernel, w.stride, w.padding); };
    REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param({2, 3, 9, 11}, 1)}, 0, 0);
    REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{tied_param({2, 3, 7, 9})}, 0, 0);
  }
}

FER_CUDA_TEST_CASE("avg_pool2d matches the cpu", "[pool]") {
  for (const Window w : {Window{2, 2, 0}, Window{3, 2, 1}, Window{3, 1, 1}}) {
    INFO("kernel " << w.kernel << " stride " << w.stride << " padding " << w.padding);
    auto f = [w](const std::vector<Tensor>& in) { return avg_pool2d(in[0], w.kernel, w.stride, w.padding); };
    REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param({2, 3, 9, 11}, 2)}, 1e-6, 1e-5);
  }
}

FER_CUDA_TEST_CASE("global_avg_pool matches the cpu", "[pool]") {
  auto f = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
  // 4x4 (under a warp), 13x11 (several warp strides), 37 planes (not a multiple of 8 warps)
  for (const Shape& shape : {Shape{37, 1, 4, 4}, Shape{2, 3, 13, 11}}) {
    INFO("x " << shape_str(shape));
    REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param(shape, 3)}, 1e-6, 1e-5);
  }
}
