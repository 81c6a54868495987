// cross_entropy, bce_with_logits, l1_loss, mse_loss on the cpu: hand-computed cases, gradient
// checks in float64 at odd sizes, and the optimized path against the reference.
#include <cmath>

#include "tests/support/compare.h"
#include "tests/support/cpu_vs_ref.h"

using namespace fer;

namespace {
// Logits and differences spread over [-2, 2).
Tensor param(const Shape& shape, uint64_t seed, double lo = -2, double hi = 2) {
  return fer::test::random_param(shape, seed, lo, hi);
}

Tensor labels_of(const std::vector<float>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

double scalar_of(const Tensor& t) { return t.item(); }

}  // namespace

TEST_CASE("cross_entropy matches log-softmax by hand and stays finite on huge logits", "[cpu]") {
  const Tensor logits = Tensor::from_vector(std::vector<double>{1, 2, 3, 0, 0, 0}, {2, 3});
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double expected = ((lse - 1) + std::log(3.0)) / 2;
  REQUIRE(scalar_of(cross_entropy(logits, labels_of({0, 2}))) == Approx(expected).epsilon(1e-12));
  const Tensor huge = Tensor::from_vector(std::vector<float>{1000, 0, -1000, 1000}, {2, 2});
  REQUIRE(scalar_of(cross_entropy(huge, labels_of({0, 0}))) == Approx(1000.0));
}

TEST_CASE("cross_entropy gradients match finite differences", "[cpu]") {
  const Tensor labels = labels_of({0, 4, 2, 1, 4});
  auto f = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); };
  REQUIRE_GRADCHECK(f, {param({5, 7}, 1)});
}

TEST_CASE("cross_entropy cpu path matches the reference", "[cpu]") {
  std::vector<float> values;
  for (int i = 0; i < 37; ++i) values.push_back(static_cast<float>((i * 5) % 7));
  const Tensor labels = labels_of(values);
  auto f = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{param({37, 7}, 2, -5, 5)}), 1e-6, 1e-5);
}

TEST_CASE("cross_entropy names a bad label and its position", "[cpu]") {
  const Tensor logits = Tensor::zeros({3, 4});
  REQUIRE_THROWS_WITH(cross_entropy(logits, labels_of({0, 4, 1})),
                      Catch::Contains("label 4 at position 1") && Catch::Contains("[3, 4]"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, labels_of({0, 1, 1.5f})), Catch::Contains("label 1.5 at position 2"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, labels_of({0, 1})), Catch::Contains("labels [2]"));
}

TEST_CASE("bce_with_logits matches the definition and stays finite on huge logits", "[cpu]") {
  const Tensor logits = Tensor::from_vector(std::vector<double>{0.5, -1.5, 2}, {3});
  const Tensor targets = Tensor::from_vector(std::vector<double>{1, 0, 0.25}, {3});
  auto term = [](double x, double t) {
    const double p = 1 / (1 + std::exp(-x));
    return -(t * std::log(p) + (1 - t) * std::log(1 - p));
  };
  const double expected = (term(0.5, 1) + term(-1.5, 0) + term(2, 0.25)) / 3;
  REQUIRE(scalar_of(bce_with_logits(logits, targets)) == Approx(expected).epsilon(1e-12));
  const Tensor huge = Tensor::from_vector(std::vector<float>{200, -200}, {2});
  REQUIRE(scalar_of(bce_with_logits(huge, Tensor::from_vector(std::vector<float>{0, 1}, {2}))) == Approx(200.0));
}

TEST_CASE("bce_with_logits gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); };
  REQUIRE_GRADCHECK(f, {param({3, 5}, 3), param({3, 5}, 4, 0, 1)});
}

TEST_CASE("bce_with_logits cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{param({7, 11, 13}, 5, -8, 8), param({7, 11, 13}, 6, 0, 1)}), 1e-6,
                          1e-5);
}

TEST_CASE("l1_loss is the mean absolute difference with a zero gradient at ties", "[cpu]") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  a.set_requires_grad();
  const Tensor b = Tensor::from_vector(std::vector<double>{0, 2, 5, 4.5}, {2, 2});
  const Tensor loss = l1_loss(a, b);
  REQUIRE(scalar_of(loss) == Approx((1 + 0 + 2 + 0.5) / 4.0).epsilon(1e-12));
  loss.backward();
  REQUIRE_CLOSE(a.grad(), Tensor::from_vector(std::vector<double>{0.25, 0, -0.25, -0.25}, {2, 2}), 0, 0);
}

TEST_CASE("l1_loss gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1]); };
  REQUIRE_GRADCHECK(f, {param({3, 5, 7}, 7), param({3, 5, 7}, 8)});
}

TEST_CASE("l1_loss cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{param({7, 11, 13}, 9), param({7, 11, 13}, 10)}), 1e-6, 1e-5);
}

TEST_CASE("mse_loss is the mean squared difference", "[cpu]") {
  const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3});
  const Tensor b = Tensor::from_vector(std::vector<double>{0, 4, 3}, {3});
  REQUIRE(scalar_of(mse_loss(a, b)) == Approx(5.0 / 3).epsilon(1e-12));
  REQUIRE_THROWS_WITH(mse_loss(a, Tensor::zeros({4}, DType::F64)),
                      Catch::Contains("mse_loss") && Catch::Contains("[3]") && Catch::Contains("[4]"));
}

TEST_CASE("mse_loss gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
  REQUIRE_GRADCHECK(f, {param({3, 5, 7}, 11), param({3, 5, 7}, 12)});
}

TEST_CASE("mse_loss cpu path matches the reference", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{param({7, 11, 13}, 13), param({7, 11, 13}, 14)}), 1e-6, 1e-5);
}
