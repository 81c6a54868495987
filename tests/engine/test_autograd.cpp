// The autograd engine: accumulation, detach, no_grad, freed graphs, what a graph keeps alive,
// requires-grad fixed at record time, deep graphs, no leaks, and argument errors naming the shapes.
#include "engine/nn/layers.h"
#include "engine/optim/optimizer.h"
#include "tests/support/compare.h"

using Catch::Matchers::Contains;
using fer::Tensor;

namespace {

Tensor param(const std::vector<double>& values, const fer::Shape& shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad();
  return t;
}

}  // namespace

TEST_CASE("autograd accumulates gradients of a tensor used twice and across backward calls", "[cpu]") {
  Tensor x = param({1.5, -2.0, 3.0}, {3});
  fer::sum(x * x + x).backward();  // d/dx = 2x + 1
  REQUIRE_CLOSE(x.grad(), Tensor::from_vector(std::vector<double>{4.0, -3.0, 7.0}, {3}), 1e-12, 0);
  fer::sum(x * 2.0).backward();  // leaf gradients accumulate: + 2
  REQUIRE_CLOSE(x.grad(), Tensor::from_vector(std::vector<double>{6.0, -1.0, 9.0}, {3}), 1e-12, 0);
  x.zero_grad();
  REQUIRE(!x.grad().defined());
}

TEST_CASE("autograd composite of ops matches finite differences", "[cpu]") {
  const Tensor x = fer::test::random_tensor({3, 5}, 1, -1, 1, fer::DType::F64).set_requires_grad();
  const Tensor w = fer::test::random_tensor({7, 5}, 2, -1, 1, fer::DType::F64).set_requires_grad();
  const Tensor b = fer::test::random_tensor({7}, 3, -1, 1, fer::DType::F64).set_requires_grad();
  auto f = [](const std::vector<Tensor>& in) {
    const Tensor h = fer::tanh(fer::linear(in[0], in[1], in[2]));
    return fer::mean(h * h, {1}) + fer::sum(in[0], {1});  // x reaches the output by two paths
  };
  REQUIRE_GRADCHECK(f, {x, w, b});
}

TEST_CASE("autograd detach and no_grad cut the graph", "[cpu]") {
  Tensor x = param({2.0, 3.0}, {2});
  fer::sum(x.detach() * x).backward();  // the detached factor is a constant
  REQUIRE_CLOSE(x.grad(), x.detach(), 0, 0);
  REQUIRE(x.detach().same_storage(x));
  REQUIRE(!x.detach().requires_grad());
  {
    fer::NoGradGuard no_grad;
    const Tensor y = x * x;
    REQUIRE(!y.requires_grad());
    REQUIRE(!y.grad_fn());
  }
  REQUIRE((x * x).grad_fn() != nullptr);
  REQUIRE_THROWS_WITH(Tensor::scalar(1.0).backward(), Contains("does not require grad"));
}

TEST_CASE("autograd second backward through a freed graph is an error", "[cpu]") {
  Tensor x = param({1.0, 2.0}, {2});
  const Tensor loss = fer::sum(x * x);
  loss.backward();
  REQUIRE_THROWS_WITH(loss.backward(), Contains("a second time") && Contains("freed"));
}

TEST_CASE("autograd deep chains of 10000 ops neither overflow backward nor destruction", "[cpu]") {
  constexpr int kDepth = 10000;
  Tensor x = param({0.5}, {1});
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = y * 1.0001 + 0.0;
  y.backward();
  REQUIRE(x.grad().item() == Approx(std::pow(1.0001, kDepth)).epsilon(1e-9));

  // A graph dropped without backward is destroyed node by node as well.
  Tensor z = x;
  for (int i = 0; i < kDepth; ++i) z = z + 1.0;
  z = Tensor();
  REQUIRE(!z.defined());
}

TEST_CASE("autograd training loop of 1000 steps keeps live storage constant (no ownership cycles)", "[cpu]") {
  fer::RandomStream rng(1);
  fer::nn::Sequential net({std::make_shared<fer::nn::Linear>(6, 9, rng), std::make_shared<fer::nn::Tanh>(),
                           std::make_shared<fer::nn::BatchNorm1d>(9), std::make_shared<fer::nn::Linear>(9, 3, rng)});
  fer::optim::Adam adam(net.parameters(), {.lr = 1e-3});
  const Tensor x = fer::test::random_tensor({5, 6}, 2);
  const Tensor labels = Tensor::from_vector(std::vector<float>{0, 1, 2, 1, 0}, {5});
  auto step = [&] {
    adam.zero_grad();
    fer::cross_entropy(net(x), labels).backward();
    adam.step();
  };
  for (int i = 0; i < 10; ++i) step();  // every buffer exists from here on
  const int64_t count = fer::Storage::live_count(), bytes = fer::Storage::live_bytes();
  for (int i = 0; i < 1000; ++i) step();
  REQUIRE(fer::Storage::live_count() == count);
  REQUIRE(fer::Storage::live_bytes() == bytes);

  // The counter can see a leak: a kept graph holds storages.
  const Tensor kept = fer::cross_entropy(net(x), labels);
  REQUIRE(fer::Storage::live_count() > count);
}

TEST_CASE("autograd keeps a graph's interior tensors only where a backward captured them", "[cpu]") {
  Tensor x = param({1.0, -2.0, 3.0, -4.0}, {4});
  const int64_t before = fer::Storage::live_bytes();
  // Of the three results below only tanh's stays alive: its backward reads its output, while the
  // backwards of the scalar multiply and add read nothing, so their outputs go once consumed.
  const Tensor y = fer::tanh((x * 3.0) + 1.0);
  REQUIRE(fer::Storage::live_bytes() - before == 4 * static_cast<int64_t>(sizeof(double)));  // y alone
  fer::sum(y).backward();
  std::vector<double> expected;
  for (double v : {1.0, -2.0, 3.0, -4.0}) expected.push_back(3.0 * (1.0 - std::pow(std::tanh(3.0 * v + 1.0), 2)));
  REQUIRE_CLOSE(x.grad(), Tensor::from_vector(expected, {4}), 1e-12, 0);
}

TEST_CASE("autograd fixes requires-grad when an op runs: a module frozen for a forward gets no gradient", "[cpu]") {
  // As the generator's step through a frozen discriminator: freeze, forward, unfreeze, backward.
  Tensor w = param({0.5, -1.5}, {2});
  Tensor x = param({2.0, 4.0}, {2});
  w.set_requires_grad(false);
  const Tensor loss = fer::sum(x * w);
  w.set_requires_grad(true);
  loss.backward();
  REQUIRE(!w.grad().defined());             // no gradient for the weight frozen at the time
  REQUIRE_CLOSE(x.grad(), w.detach(), 0, 0);  // the input's gradient flows through it
  // An op recorded while w required grad does give it a gradient.
  fer::sum(x * w).backward();
  REQUIRE_CLOSE(w.grad(), x.detach(), 0, 0);
}

TEST_CASE("autograd errors name both shapes on mismatches", "[cpu]") {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({4, 5});
  REQUIRE_THROWS_WITH(fer::add(a, b), Contains("[2, 3]") && Contains("[4, 5]"));
  REQUIRE_THROWS_WITH(fer::matmul(a, b), Contains("[2, 3]") && Contains("[4, 5]"));
  Tensor x = param({1.0, 2.0}, {2});
  REQUIRE_THROWS_WITH((x * 2.0).backward(Tensor::zeros({3}, fer::DType::F64)), Contains("[3]") && Contains("[2]"));
  REQUIRE_THROWS_WITH(fer::add(a, Tensor::zeros({2, 3}, fer::DType::F64)),
                      Contains("float32[2, 3] on cpu") && Contains("float64[2, 3] on cpu"));
#ifdef FER_WITH_CUDA_SIM
  REQUIRE_THROWS_WITH(fer::add(a, Tensor::zeros({2, 3}, fer::DType::F32, fer::Device::CUDASim)),
                      Contains("float32[2, 3] on cpu") && Contains("float32[2, 3] on cuda-sim"));
#endif
}
