// Activations, clamp and dropout.
#include <cmath>

#include "kernels/common/random.h"
#include "kernels/elementwise/elementwise.h"
#include "tests/support/compare.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

using Activation = std::function<Tensor(const Tensor&)>;

struct Named {
  const char* name;
  Activation f;
  double (*naive)(double);
};

const std::vector<Named> kActivations = {
    {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }},
    {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](double v) { return v > 0 ? v : 0.2 * v; }},
    // A negative slope: the backward must read x, since y no longer has x's sign.
    {"leaky_relu(-0.3)", [](const Tensor& x) { return leaky_relu(x, -0.3); }, [](double v) { return v > 0 ? v : -0.3 * v; }},
    {"tanh", [](const Tensor& x) { return fer::tanh(x); }, [](double v) { return std::tanh(v); }},
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double v) { return 1 / (1 + std::exp(-v)); }},
    {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.25); }, [](double v) { return std::min(std::max(v, -0.5), 0.25); }},
};

std::vector<double> apply(const Tensor& x, double (*f)(double)) {
  std::vector<double> out = x.to_vector_f64();
  for (double& v : out) v = f(v);
  return out;
}

}  // namespace

TEST_CASE("relu/leaky_relu/tanh/sigmoid/clamp forward match the formulas", "[cpu]") {
  for (const Named& a : kActivations) {
    INFO(a.name);
    for (DType dtype : {DType::F32, DType::F64}) {
      const Tensor x = random_tensor({5, 7, 3}, 11, -3, 3, dtype);
      REQUIRE_CLOSE(a.f(x), Tensor::from_vector(apply(x, a.naive), x.shape()), 1e-6, 1e-6);
    }
  }
  // Saturation: sigmoid and tanh stay finite and exact at the extremes.
  const Tensor big = Tensor::from_vector(std::vector<float>{-1000, 1000}, {2});
  REQUIRE(sigmoid(big).to_vector() == std::vector<float>{0, 1});
  REQUIRE(fer::tanh(big).to_vector() == std::vector<float>{-1, 1});
}

TEST_CASE("relu/leaky_relu/tanh/sigmoid/clamp backward match finite differences", "[cpu]") {
  // Values kept away from the kinks (0 for relu, -0.5 and 0.25 for clamp) by more than eps.
  std::vector<double> values;
  for (int i = 0; i < 5 * 7; ++i) values.push_back(-2.0 + 0.117 * i);
  for (const Named& a : kActivations) {
    INFO(a.name);
    const Tensor x = Tensor::from_vector(values, {5, 7}).set_requires_grad();
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return a.f(in[0]); }, {x});
  }
}

TEST_CASE("relu/leaky_relu/tanh/sigmoid/clamp/affine cpu path matches the float reference", "[cpu]") {
  const int64_t n = 3 * 100003;  // several threads' worth, odd
  const Tensor x = random_tensor({n}, 12, -3, 3);
  const Tensor g = random_tensor({n}, 13, -1, 1);
  const std::vector<std::pair<UnaryOp, UnaryParams>> ops = {
      {UnaryOp::Affine, {1.5, -0.25}}, {UnaryOp::Relu, {}},    {UnaryOp::LeakyRelu, {0.2, 0}},
      {UnaryOp::Tanh, {}},             {UnaryOp::Sigmoid, {}}, {UnaryOp::Clamp, {-0.5, 0.25}}};
  for (const auto& [op, p] : ops) {
    INFO("op " << static_cast<int>(op));
    Tensor y = Tensor::empty({n}), y_ref = Tensor::empty({n});
    unary_forward_cpu(op, p, n, x.data<float>(), y.data<float>());
    unary_forward_ref<float>(op, p, n, x.data<float>(), y_ref.data<float>());
    REQUIRE_CLOSE(y, y_ref, 0, 0);
    Tensor gx = Tensor::empty({n}), gx_ref = Tensor::empty({n});
    unary_backward_cpu(op, p, n, x.data<float>(), y_ref.data<float>(), g.data<float>(), gx.data<float>());
    unary_backward_ref<float>(op, p, n, x.data<float>(), y_ref.data<float>(), g.data<float>(), gx_ref.data<float>());
    REQUIRE_CLOSE(gx, gx_ref, 0, 0);
  }
}

TEST_CASE("relu and leaky relu (slope > 0) backward read only y, so autograd lets their input go", "[cpu]") {
  const int64_t n = 1001;
  const Tensor x = random_tensor({n}, 17, -3, 3);
  const Tensor g = random_tensor({n}, 18, -1, 1);
  for (const auto& [op, p] : std::vector<std::pair<UnaryOp, UnaryParams>>{{UnaryOp::Relu, {}},
                                                                          {UnaryOp::LeakyRelu, {0.2, 0}}}) {
    REQUIRE(unary_backward_reads_output(op, p));
    REQUIRE_FALSE(unary_backward_reads_input(op, p));
    Tensor y = Tensor::empty({n}), gx = Tensor::empty({n});
    unary_forward_ref<float>(op, p, n, x.data<float>(), y.data<float>());
    unary_backward_ref<float>(op, p, n, nullptr, y.data<float>(), g.data<float>(), gx.data<float>());
    std::vector<float> from_x(static_cast<size_t>(n));  // the derivative written from x
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g.data<float>()[i];
      from_x[static_cast<size_t>(i)] = x.data<float>()[i] > 0 ? gi : static_cast<float>(p.a) * gi;
    }
    REQUIRE(gx.to_vector() == from_x);
  }
  REQUIRE(unary_backward_reads_input(UnaryOp::LeakyRelu, {-0.3, 0}));
  REQUIRE(unary_backward_reads_input(UnaryOp::Clamp, {-1, 1}));

  // Engine level: the product below is held by nothing but relu's graph node.
  const Tensor leaf = random_tensor({64, 64}, 19, -1, 1).set_requires_grad();
  const int64_t before = Storage::live_bytes();
  const Tensor out = relu(leaf * 2.0);
  REQUIRE(Storage::live_bytes() - before == 64 * 64 * static_cast<int64_t>(sizeof(float)));  // out only
  sum(out).backward();
  REQUIRE_CLOSE(leaf.grad(), Tensor::from_vector(apply(leaf, [](double v) { return v > 0 ? 2.0 : 0.0; }), {64, 64}),
                0, 0);
}

TEST_CASE("clamp rejects lo > hi", "[cpu]") {
  REQUIRE_THROWS_WITH(clamp(Tensor::zeros({3}), 1, 0), Catch::Contains("clamp: lo 1 > hi 0"));
}

TEST_CASE("dropout keeps about 1-p of the elements, scaled by 1/(1-p), from the counter-based stream", "[cpu]") {
  const double p = 0.3;
  const int64_t n = 20001;
  RandomStream rng(42);
  const Tensor x = Tensor::full({n}, 2.0);
  const Tensor y = dropout(x, p, true, rng);
  REQUIRE(rng.offset() == static_cast<uint64_t>(n));  // the generator advanced by numel
  const std::vector<float> v = y.to_vector();
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = random_uniform(42, static_cast<uint64_t>(i)) >= static_cast<float>(p);
    REQUIRE(v[static_cast<size_t>(i)] == (keep ? static_cast<float>(2.0 / (1 - p)) : 0.0f));
    kept += keep;
  }
  // Binomial(n, 0.7): standard deviation ~65 elements.
  REQUIRE(std::abs(static_cast<double>(kept) / n - (1 - p)) < 0.015);
  // A second call draws a fresh mask.
  REQUIRE(dropout(x, p, true, rng).to_vector() != v);
}

TEST_CASE("dropout is the identity in eval mode and for p = 0, and rejects p outside [0, 1)", "[cpu]") {
  RandomStream rng(1);
  const Tensor x = random_tensor({3, 5}, 14);
  REQUIRE(dropout(x, 0.5, false, rng).to_vector() == x.to_vector());
  REQUIRE(dropout(x, 0.0, true, rng).to_vector() == x.to_vector());
  REQUIRE(rng.offset() == 0);
  REQUIRE_THROWS_WITH(dropout(x, 1.0, true, rng), Catch::Contains("dropout: probability 1 outside [0, 1)"));
}

TEST_CASE("dropout backward matches finite differences (same mask) and the cpu path matches the reference", "[cpu]") {
  const Tensor x = random_tensor({7, 9}, 15, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        RandomStream rng(7);  // the same mask on every evaluation
        return dropout(in[0], 0.4, true, rng);
      },
      {x});
  const int64_t n = 3 * 100003;
  const Tensor xf = random_tensor({n}, 16);
  Tensor y = Tensor::empty({n}), y_ref = Tensor::empty({n});
  dropout_forward_cpu(n, 0.4, 9, 123, xf.data<float>(), y.data<float>());
  dropout_forward_ref<float>(n, 0.4, 9, 123, xf.data<float>(), y_ref.data<float>());
  REQUIRE_CLOSE(y, y_ref, 0, 0);
  Tensor gx = Tensor::empty({n}), gx_ref = Tensor::empty({n});
  dropout_backward_cpu(n, 0.4, 9, 123, xf.data<float>(), gx.data<float>());
  dropout_backward_ref<float>(n, 0.4, 9, 123, xf.data<float>(), gx_ref.data<float>());
  REQUIRE_CLOSE(gx, gx_ref, 0, 0);
}
