// max_pool2d, avg_pool2d, global_avg_pool on the cpu: hand-computed cases, gradient checks in
// float64 at odd sizes with stride != kernel and padding, and the optimized path against the
// reference.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/pool/pool.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_vs_ref.h"

using namespace fer;
using fer::test::random_param;

namespace {

Tensor iota(const Shape& shape, double start, double step) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + step * static_cast<double>(i);
  return Tensor::from_vector(v, shape);
}

}  // namespace

TEST_CASE("max_pool2d picks each window's maximum", "[cpu]") {
  const Tensor x = iota({1, 1, 4, 4}, 0, 1);
  REQUIRE_CLOSE(max_pool2d(x, 2, 2), Tensor::from_vector(std::vector<double>{5, 7, 13, 15}, {1, 1, 2, 2}), 0, 0);
  REQUIRE_CLOSE(max_pool2d(x, 3, 2, 1), Tensor::from_vector(std::vector<double>{5, 7, 13, 15}, {1, 1, 2, 2}), 0, 0);
  // All values negative: padded cells (zeros) must not win.
  const Tensor negative = iota({1, 1, 4, 4}, -16, 1);
  REQUIRE_CLOSE(max_pool2d(negative, 3, 2, 1),
                Tensor::from_vector(std::vector<double>{-11, -9, -3, -1}, {1, 1, 2, 2}), 0, 0);
}

TEST_CASE("max_pool2d backward routes to the first maximum on ties", "[cpu]") {
  Tensor x = Tensor::full({1, 1, 2, 3}, 2.0, DType::F64);
  x.set_requires_grad();
  max_pool2d(x, 2, 1).backward(Tensor::from_vector(std::vector<double>{1, 10}, {1, 1, 1, 2}));
  REQUIRE_CLOSE(x.grad(), Tensor::from_vector(std::vector<double>{1, 10, 0, 0, 0, 0}, {1, 1, 2, 3}), 0, 0);
}

TEST_CASE("max_pool2d gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); };
  REQUIRE_GRADCHECK(f, {random_param({2, 3, 7, 9}, 1)});
  auto g = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 3); };
  REQUIRE_GRADCHECK(g, {random_param({3, 1, 7, 5}, 2)});
}

TEST_CASE("max_pool2d cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({3, 5, 13, 11}, 3)}), 1e-6, 1e-6);
  // 2x2 windows with stride 2 (the recognizer's): odd sizes leave a last row and column outside
  // every window, whose gradient must come out zero.
  auto pool2 = [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 2, 2); };
  REQUIRE_CPU_MATCHES_REF(pool2, (std::vector<Tensor>{random_param({3, 5, 13, 11}, 4)}), 1e-6, 1e-6);
  REQUIRE_CPU_MATCHES_REF(pool2, (std::vector<Tensor>{random_param({2, 64, 32, 32}, 5)}), 1e-6, 1e-6);
}

TEST_CASE("max_pool2d 2x2 cpu backward routes ties to the first maximum of each window, as the reference", "[cpu]") {
  // Windows of four equal values, of a maximum tied across the rows, and of one maximum.
  const std::vector<float> x = {1, 1, 0, 5, 2, 9, 1, 1, 0, 5, 2, 9, 7, 3, 3, 7, 7, 7, 3, 4, 3, 4, 7, 7};
  const PoolShape s{1, 1, 4, 6, 2, 2, 0, 2, 3};
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6};
  std::vector<float> dx(x.size()), dx_ref(x.size());
  max_pool2d_backward_cpu(x.data(), dy.data(), dx.data(), s);
  max_pool2d_backward_ref<float>(x.data(), dy.data(), dx_ref.data(), s);
  REQUIRE(dx == dx_ref);
  REQUIRE(dx == std::vector<float>{1, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 4, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0, 0});
  // NaN: nothing beats it where it comes first; elsewhere it never wins (both paths, forward too).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> xn = {nan, 1, 2, nan, 5, 0, 3, 4};  // windows {nan 1 / 5 0}, {2 nan / 3 4}
  const PoolShape sn{1, 1, 2, 4, 2, 2, 0, 1, 2};
  std::vector<float> y(2), dxn(xn.size()), dxn_ref(xn.size());
  max_pool2d_forward_cpu(xn.data(), y.data(), sn);
  REQUIRE(std::isnan(y[0]));
  REQUIRE(y[1] == 4);
  max_pool2d_backward_cpu(xn.data(), dy.data(), dxn.data(), sn);
  max_pool2d_backward_ref<float>(xn.data(), dy.data(), dxn_ref.data(), sn);
  REQUIRE(dxn == dxn_ref);
  REQUIRE(dxn == std::vector<float>{1, 0, 0, 0, 0, 0, 0, 2});
}

TEST_CASE("avg_pool2d counts padding as zeros", "[cpu]") {
  const Tensor x = Tensor::full({1, 1, 3, 3}, 1.0, DType::F64);
  const double c = 4.0 / 9, e = 6.0 / 9;
  REQUIRE_CLOSE(avg_pool2d(x, 3, 1, 1), Tensor::from_vector(std::vector<double>{c, e, c, e, 1, e, c, e, c}, {1, 1, 3, 3}),
                1e-12, 1e-12);
  REQUIRE_CLOSE(avg_pool2d(iota({1, 1, 4, 4}, 0, 1), 2, 2),
                Tensor::from_vector(std::vector<double>{2.5, 4.5, 10.5, 12.5}, {1, 1, 2, 2}), 1e-12, 1e-12);
}

TEST_CASE("avg_pool2d gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 3, 2, 1); };
  REQUIRE_GRADCHECK(f, {random_param({2, 3, 7, 9}, 4)});
  auto g = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 2, 3); };
  REQUIRE_GRADCHECK(g, {random_param({3, 1, 7, 5}, 5)});
}

TEST_CASE("avg_pool2d cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return avg_pool2d(in[0], 3, 2, 1); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({3, 5, 13, 11}, 6)}), 1e-6, 1e-5);
}

TEST_CASE("max_pool2d, avg_pool2d and global_avg_pool reject bad arguments naming the shapes", "[cpu]") {
  const Tensor x = Tensor::zeros({1, 2, 3, 3});
  REQUIRE_THROWS_WITH(max_pool2d(x, 2, 2, 2), Catch::Contains("max_pool2d") && Catch::Contains("[1, 2, 3, 3]"));
  REQUIRE_THROWS_WITH(avg_pool2d(x, 5, 1), Catch::Contains("avg_pool2d") && Catch::Contains("larger"));
  REQUIRE_THROWS_WITH(global_avg_pool(Tensor::zeros({2, 3})), Catch::Contains("global_avg_pool"));
}

TEST_CASE("global_avg_pool averages each plane", "[cpu]") {
  const Tensor x = iota({2, 2, 1, 3}, 0, 1);
  REQUIRE_CLOSE(global_avg_pool(x), Tensor::from_vector(std::vector<double>{1, 4, 7, 10}, {2, 2}), 1e-12, 1e-12);
}

TEST_CASE("global_avg_pool gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
  REQUIRE_GRADCHECK(f, {random_param({3, 5, 3, 7}, 7)});
}

TEST_CASE("global_avg_pool cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return global_avg_pool(in[0]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({5, 7, 9, 11}, 8)}), 1e-6, 1e-5);
}
