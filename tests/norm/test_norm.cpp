// batch_norm, instance_norm, spectral_normalize on the cpu: hand-computed cases, gradient checks
// in float64 at odd sizes, and the optimized path against the reference.
#include <cmath>

#include "tests/support/compare.h"
#include "tests/support/cpu_vs_ref.h"

using namespace fer;
using fer::test::random_param;
using fer::test::random_tensor;

TEST_CASE("batch_norm training normalizes with batch statistics and updates running stats", "[cpu]") {
  // Channel 0: {1, 2, 6}: mean 3, biased var 14/3, unbiased 7. Channel 1: {0, 0, 3}: mean 1,
  // biased var 2, unbiased 3.
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 0, 2, 0, 6, 3}, {3, 2});
  const Tensor weight = Tensor::from_vector(std::vector<float>{2, 1}, {2});
  const Tensor bias = Tensor::from_vector(std::vector<float>{0, 1}, {2});
  Tensor running_mean = Tensor::from_vector(std::vector<float>{0, 0}, {2});
  Tensor running_var = Tensor::from_vector(std::vector<float>{1, 1}, {2});
  const Tensor y = batch_norm(x, weight, bias, running_mean, running_var, true, 0.1, 0.0);

  const double s0 = std::sqrt(14.0 / 3.0), s1 = std::sqrt(2.0);
  const Tensor expected = Tensor::from_vector(
      std::vector<double>{2 * (1 - 3) / s0, (0 - 1) / s1 + 1, 2 * (2 - 3) / s0, (0 - 1) / s1 + 1, 2 * (6 - 3) / s0,
                          (3 - 1) / s1 + 1},
      {3, 2});
  REQUIRE_CLOSE(y, expected, 1e-6, 1e-6);
  REQUIRE_CLOSE(running_mean, Tensor::from_vector(std::vector<double>{0.3, 0.1}, {2}), 1e-7, 1e-6);
  REQUIRE_CLOSE(running_var, Tensor::from_vector(std::vector<double>{0.9 + 0.7, 0.9 + 0.3}, {2}), 1e-7, 1e-6);
}

TEST_CASE("batch_norm eval uses the running statistics and leaves them unchanged", "[cpu]") {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 5, 3, -1}, {2, 2});
  Tensor running_mean = Tensor::from_vector(std::vector<float>{1, 2}, {2});
  Tensor running_var = Tensor::from_vector(std::vector<float>{4, 9}, {2});
  const Tensor y = batch_norm(x, Tensor(), Tensor(), running_mean, running_var, false, 0.1, 0.0);
  REQUIRE_CLOSE(y, Tensor::from_vector(std::vector<double>{0, 1, 1, -1}, {2, 2}), 1e-7, 1e-6);
  REQUIRE_CLOSE(running_mean, Tensor::from_vector(std::vector<double>{1, 2}, {2}), 0, 0);
  REQUIRE_CLOSE(running_var, Tensor::from_vector(std::vector<double>{4, 9}, {2}), 0, 0);
}

TEST_CASE("batch_norm gradients match finite differences in training mode", "[cpu]") {
  // No running stats: each evaluation must be the same function of x.
  auto f = [](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5); };
  REQUIRE_GRADCHECK(f, {random_param({3, 5, 3, 7}, 1), random_param({5}, 2, 0.5, 1.5), random_param({5}, 3)});
  REQUIRE_GRADCHECK(f, {random_param({7, 3}, 4), random_param({3}, 5, 0.5, 1.5), random_param({3}, 6)});
}

TEST_CASE("batch_norm gradients match finite differences in eval mode", "[cpu]") {
  const Tensor running_mean = random_tensor({5}, 7, -0.5, 0.5, DType::F64);
  const Tensor running_var = random_tensor({5}, 8, 0.5, 2, DType::F64);
  auto f = [&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], running_mean, running_var, false, 0.1, 1e-5);
  };
  REQUIRE_GRADCHECK(f, {random_param({3, 5, 3, 5}, 9), random_param({5}, 10, 0.5, 1.5), random_param({5}, 11)});
}

TEST_CASE("batch_norm cpu path matches the reference", "[cpu]") {
  for (bool training : {true, false}) {
    INFO("training " << training);
    const Tensor running_mean = random_tensor({7}, 12, -0.5, 0.5, DType::F64);
    const Tensor running_var = random_tensor({7}, 13, 0.5, 2, DType::F64);
    auto f = [&](const std::vector<Tensor>& in) {
      Tensor mean = running_mean.to(in[0].dtype()).clone(), var = running_var.to(in[0].dtype()).clone();
      return batch_norm(in[0], in[1], in[2], mean, var, training, 0.1, 1e-5);
    };
    REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({5, 7, 9, 11}, 14, -2, 3), random_param({7}, 15), random_param({7}, 16)}),
                            1e-5, 1e-4);
  }
}

TEST_CASE("batch_norm rejects mismatched shapes naming them", "[cpu]") {
  const Tensor x = Tensor::zeros({4, 3, 2, 2});
  REQUIRE_THROWS_WITH(batch_norm(x, Tensor::zeros({4}), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5),
                      Catch::Contains("batch_norm") && Catch::Contains("weight") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, 1e-5),
                      Catch::Contains("eval mode needs running_mean"));
}

TEST_CASE("instance_norm normalizes each plane", "[cpu]") {
  // Plane (0, 0) {1, 3}: mean 2, var 1. Plane (0, 1) {2, 2}: var 0 (eps keeps it finite).
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 3, 2, 2}, {1, 2, 1, 2});
  const Tensor weight = Tensor::from_vector(std::vector<float>{3, 1}, {2});
  const Tensor bias = Tensor::from_vector(std::vector<float>{0, 5}, {2});
  REQUIRE_CLOSE(instance_norm(x, weight, bias, 1e-5), Tensor::from_vector(std::vector<double>{-3, 3, 5, 5}, {1, 2, 1, 2}),
                1e-4, 1e-4);
}

TEST_CASE("instance_norm gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], in[2], 1e-5); };
  REQUIRE_GRADCHECK(f, {random_param({3, 5, 3, 7}, 20), random_param({5}, 21, 0.5, 1.5), random_param({5}, 22)});
  auto no_affine = [](const std::vector<Tensor>& in) { return instance_norm(in[0], Tensor(), Tensor(), 1e-5); };
  REQUIRE_GRADCHECK(no_affine, {random_param({3, 3, 5, 3}, 23)});
}

TEST_CASE("instance_norm cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return instance_norm(in[0], in[1], in[2], 1e-5); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({5, 7, 9, 11}, 24, -2, 3), random_param({7}, 25), random_param({7}, 26)}),
                          1e-5, 1e-4);
}

TEST_CASE("spectral_normalize converges to the largest singular value", "[cpu]") {
  // W = [[3, 0], [0, 1], [0, 0]]: sigma 3, left singular vector e0.
  const Tensor w = Tensor::from_vector(std::vector<float>{3, 0, 0, 1, 0, 0}, {3, 2});
  Tensor u = Tensor::from_vector(std::vector<float>{0.6f, 0.8f, 0}, {3});
  const Tensor y = spectral_normalize(w, u, 30, true);
  REQUIRE_CLOSE(y, Tensor::from_vector(std::vector<double>{1, 0, 0, 1.0 / 3, 0, 0}, {3, 2}), 1e-5, 1e-5);
  REQUIRE_CLOSE(u, Tensor::from_vector(std::vector<double>{1, 0, 0}, {3}), 1e-5, 1e-5);
}

TEST_CASE("spectral_normalize eval keeps u and uses sigma = ||W^T u||", "[cpu]") {
  const Tensor w = Tensor::from_vector(std::vector<float>{3, 0, 0, 1, 0, 0}, {3, 2});
  Tensor u = Tensor::from_vector(std::vector<float>{0.6f, 0.8f, 0}, {3});
  const double sigma = std::sqrt(1.8 * 1.8 + 0.8 * 0.8);
  const Tensor y = spectral_normalize(w, u, 1, false);
  REQUIRE_CLOSE(y, Tensor::from_vector(std::vector<double>{3 / sigma, 0, 0, 1 / sigma, 0, 0}, {3, 2}), 1e-6, 1e-5);
  REQUIRE_CLOSE(u, Tensor::from_vector(std::vector<float>{0.6f, 0.8f, 0}, {3}), 0, 0);
}

TEST_CASE("spectral_normalize gradient matches finite differences with a fixed u", "[cpu]") {
  Tensor u = random_tensor({5}, 30, -1, 1, DType::F64);
  auto f = [&](const std::vector<Tensor>& in) { return spectral_normalize(in[0], u, 1, false); };
  REQUIRE_GRADCHECK(f, {random_param({5, 3, 3, 1}, 31)});
}

TEST_CASE("spectral_normalize cpu path matches the reference", "[cpu]") {
  const Tensor u0 = random_tensor({7}, 32, -1, 1, DType::F64);
  for (const bool training : {true, false}) {
    INFO("training " << training);
    auto f = [&](const std::vector<Tensor>& in) {
      Tensor u = u0.to(in[0].dtype()).clone();
      return spectral_normalize(in[0], u, 2, training);
    };
    REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({7, 3, 5, 3}, 33)}), 1e-5, 1e-4);
  }
}

TEST_CASE("spectral_normalize rejects a u of the wrong size", "[cpu]") {
  Tensor u = Tensor::zeros({4});
  REQUIRE_THROWS_WITH(spectral_normalize(Tensor::zeros({5, 3}), u, 1, true),
                      Catch::Contains("spectral_normalize") && Catch::Contains("[4]") && Catch::Contains("[5]"));
}
