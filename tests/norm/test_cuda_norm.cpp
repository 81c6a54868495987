// batch_norm, instance_norm, spectral_normalize on cuda-sim (and cuda): forward, backward and the
// updated running statistics / u against the cpu path, for each kernel variant (norm_variants.h),
// at sizes that are not multiples of any block or vector width, and with aligned planes
// (spatial % 4 == 0) for the float4 paths.
#include "kernels/norm/norm_variants.h"
#include "kernels/runtime/kernel_choice.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

void select_norm_variant(Device device, int variant) { FER_CALL_ON(device, set_norm_variant, variant); }

// Runs body once per variant, leaving the default (2) selected afterwards.
template <typename Body>
void for_each_variant(Device device, Body body) {
  for (int variant : {1, 2}) {
    INFO("variant " << variant);
    select_norm_variant(device, variant);
    body();
  }
  select_norm_variant(device, 2);
}

Tensor param(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = random_tensor(shape, seed, lo, hi);
  t.set_requires_grad();
  return t;
}

}  // namespace

FER_CUDA_TEST_CASE("batch_norm training matches the cpu, running stats included", "[norm]") {
  auto f = [](const std::vector<Tensor>& in) {
    Tensor running_mean = in[3], running_var = in[4];
    return batch_norm(in[0], in[1], in[2], running_mean, running_var, true, 0.1, 1e-5);
  };
  for_each_variant(device, [&] {
    // spatial 15 (scalar path), 32 (float4 path), and [N, C]; x offset from zero so that the
    // shifted sums are exercised.
    for (const Shape& shape : {Shape{5, 7, 3, 5}, Shape{3, 5, 4, 8}, Shape{13, 7}}) {
      INFO("x " << shape_str(shape));
      const int64_t c = shape[1];
      const std::vector<Tensor> inputs{param(shape, 1, 2, 5), param({c}, 2, 0.5, 1.5), param({c}, 3),
                                       random_tensor({c}, 4), random_tensor({c}, 5, 0.5, 2)};
      REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 2e-5, 1e-4);
    }
  });
}

FER_CUDA_TEST_CASE("batch_norm without affine parameters or running stats matches the cpu", "[norm]") {
  auto f = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  };
  for_each_variant(device, [&] {
    REQUIRE_DEVICE_MATCHES_CPU(device, f, std::vector<Tensor>{param({3, 33, 2, 2}, 6)}, 2e-5, 1e-4);
  });
}

FER_CUDA_TEST_CASE("batch_norm eval matches the cpu", "[norm]") {
  auto f = [](const std::vector<Tensor>& in) {
    Tensor running_mean = in[3], running_var = in[4];
    return batch_norm(in[0], in[1], in[2], running_mean, running_var, false, 0.1, 1e-5);
  };
  for_each_variant(device, [&] {
    for (const Shape& shape : {Shape{5, 7, 3, 5}, Shape{3, 5, 4, 8}}) {
      INFO("x " << shape_str(shape));
      const std::vector<Tensor> inputs{param(shape, 7), param({shape[1]}, 8, 0.5, 1.5), param({shape[1]}, 9),
                                       random_tensor({shape[1]}, 10), random_tensor({shape[1]}, 11, 0.5, 2)};
      REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 2e-5, 1e-4);
    }
  });
}

FER_CUDA_TEST_CASE("batch_norm v2 gives the same result on every run", "[norm]") {
  const Tensor x = random_tensor({7, 5, 3, 11}, 12).to(device);
  const Tensor a = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  const Tensor b = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  REQUIRE_CLOSE(a, b, 0, 0);
}

#ifdef FER_WITH_CUDA
// Vendor libraries are not simulated: a GPU-only test.
TEST_CASE("batch_norm cuDNN version matches the cpu (cuda)", "[norm][cuda]") {
  const Device device = Device::CUDA;
  auto f = [](const std::vector<Tensor>& in) {
    Tensor running_mean = in[3], running_var = in[4];
    return batch_norm(in[0], in[1], in[2], running_mean, running_var, true, 0.1, 1e-5);
  };
  cuda::set_kernel_choice("norm", KernelChoice::Vendor);
  const std::vector<Tensor> inputs{param({5, 7, 3, 5}, 13, 2, 5), param({7}, 14, 0.5, 1.5), param({7}, 15),
                                   random_tensor({7}, 16), random_tensor({7}, 17, 0.5, 2)};
  REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 2e-5, 1e-4);
  cuda::set_kernel_choice("norm", KernelChoice::Native);
}
#endif

FER_CUDA_TEST_CASE("instance_norm matches the cpu", "[norm]") {
  auto f = [](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], in[2], 1e-5); };
  for_each_variant(device, [&] {
    // v2's register kernel: 4x4 (float4, 1 lane per plane), 3x3 (scalar, 4 lanes), 7x9 (scalar,
    // 16 lanes, 15 planes: an idle group), 8x12 (float4, 8 lanes); its block kernel: 24x40.
    for (const Shape& shape : {Shape{5, 7, 4, 4}, Shape{3, 5, 3, 3}, Shape{3, 5, 7, 9}, Shape{2, 3, 8, 12},
                               Shape{2, 3, 24, 40}}) {
      INFO("x " << shape_str(shape));
      const std::vector<Tensor> inputs{param(shape, 18, -2, 3), param({shape[1]}, 19, 0.5, 1.5), param({shape[1]}, 20)};
      REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 2e-5, 1e-4);
    }
    auto no_affine = [](const std::vector<Tensor>& in) { return instance_norm(in[0], Tensor(), Tensor(), 1e-5); };
    REQUIRE_DEVICE_MATCHES_CPU(device, no_affine, std::vector<Tensor>{param({2, 3, 5, 7}, 21)}, 2e-5, 1e-4);
  });
}

FER_CUDA_TEST_CASE("spectral_normalize matches the cpu, u included", "[norm]") {
  for_each_variant(device, [&] {
    // 70 rows: two row slices in v2's W^T u; 4-D weights are viewed as [rows, rest].
    for (const Shape& shape : {Shape{13, 37}, Shape{70, 33}, Shape{7, 3, 3, 5}}) {
      for (bool training : {true, false}) {
        INFO("weight " << shape_str(shape) << " training " << training);
        auto f = [training](const std::vector<Tensor>& in) {
          Tensor u = in[1];
          return spectral_normalize(in[0], u, 1, training);
        };
        const std::vector<Tensor> inputs{param(shape, 22), random_tensor({shape[0]}, 23)};
        REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 2e-5, 1e-4);
      }
    }
  });
}

FER_CUDA_TEST_CASE("set_norm_variant rejects unknown variants", "[norm]") {
  for (int variant : {0, 3})
    REQUIRE_THROWS_WITH([&] { FER_CALL_ON(device, set_norm_variant, variant); }(),
                        Catch::Contains("set_norm_variant") && Catch::Contains(std::to_string(variant)));
}
