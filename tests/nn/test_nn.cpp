// nn modules: PyTorch's initialization statistics, names and registration, state_dict round trip
// and checked loading, train/eval behaviour.
#include <cmath>

#include "engine/nn/layers.h"
#include "tests/support/compare.h"

using Catch::Matchers::Contains;
using fer::RandomStream;
using fer::Tensor;
namespace nn = fer::nn;

namespace {

// A two-level model: "encoder" (a Sequential) and "head", plus a parameter of its own.
struct TwoLevel : nn::Module {
  explicit TwoLevel(RandomStream& rng, int64_t width = 5)
      : scale(register_parameter("scale", Tensor::full({1}, 1.0))),
        encoder(register_module("encoder", std::make_shared<nn::Sequential>())),
        head(register_module("head", std::make_shared<nn::Linear>(width, 3, rng))) {
    encoder->push_back(std::make_shared<nn::Linear>(4, width, rng));
    encoder->push_back(std::make_shared<nn::ReLU>());
    encoder->push_back(std::make_shared<nn::BatchNorm1d>(width));
  }
  std::string type_name() const override { return "TwoLevel"; }
  Tensor forward(const Tensor& x) override { return (*head)((*encoder)(x)) * scale; }

  Tensor& scale;
  std::shared_ptr<nn::Sequential> encoder;
  std::shared_ptr<nn::Linear> head;
};

// Checks that values look like U(-bound, bound): inside the bound, mean ~0, variance ~bound^2/3.
void require_uniform(const Tensor& t, double bound) {
  const std::vector<double> v = t.to_vector_f64();
  double mean = 0, var = 0, max_abs = 0;
  for (double x : v) mean += x, max_abs = std::max(max_abs, std::abs(x));
  mean /= static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  var /= static_cast<double>(v.size());
  INFO(t.str() << " bound " << bound << " mean " << mean << " var " << var << " max " << max_abs);
  REQUIRE(max_abs <= bound);
  REQUIRE(max_abs > 0.95 * bound);
  REQUIRE(std::abs(mean) < 0.05 * bound);
  REQUIRE(var == Approx(bound * bound / 3).epsilon(0.08));
}

}  // namespace

TEST_CASE("Conv2d, ConvTranspose2d and Linear use PyTorch's default initialization", "[cpu]") {
  RandomStream rng(3);
  nn::Conv2d conv(16, 32, 3, rng);
  REQUIRE(conv.weight.shape() == fer::Shape{32, 16, 3, 3});
  require_uniform(conv.weight, 1.0 / std::sqrt(16.0 * 9));
  nn::ConvTranspose2d deconv(24, 8, 4, rng);  // fan_in from weight.size(1) * k * k = 8 * 16
  REQUIRE(deconv.weight.shape() == fer::Shape{24, 8, 4, 4});
  require_uniform(deconv.weight, 1.0 / std::sqrt(8.0 * 16));
  nn::Linear linear(50, 300, rng);
  require_uniform(linear.weight, 1.0 / std::sqrt(50.0));
  require_uniform(linear.bias, 1.0 / std::sqrt(50.0));
  REQUIRE(conv.bias.shape() == fer::Shape{32});
  REQUIRE(!nn::Linear(3, 2, rng, {.bias = false}).bias.defined());
}

TEST_CASE("Linear with spectral_norm keeps a unit weight_u, updated by training forwards only", "[cpu]") {
  RandomStream rng(5);
  nn::Linear sn(7, 5, rng, {.spectral_norm = true});
  REQUIRE(sn.named_buffers().size() == 1);
  const std::vector<double> u0 = sn.weight_u.to_vector_f64();
  double norm = 0;
  for (double x : u0) norm += x * x;
  REQUIRE(norm == Approx(1.0).epsilon(1e-5));

  const Tensor x = fer::test::random_tensor({3, 7}, 9);
  sn(x);
  const std::vector<double> u1 = sn.weight_u.to_vector_f64();
  REQUIRE(u1 != u0);
  sn.eval();
  const Tensor y = sn(x);
  REQUIRE(sn.weight_u.to_vector_f64() == u1);
  // The normalized weight has spectral norm ~1; for a 5x7 matrix its largest output is bounded.
  REQUIRE(y.shape() == fer::Shape{3, 5});
}

TEST_CASE("Module names parameters and buffers with dotted paths in registration order", "[cpu]") {
  RandomStream rng(1);
  TwoLevel model(rng);
  std::vector<std::string> names;
  for (const auto& [name, t] : model.named_parameters()) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"scale", "encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
                                            "encoder.2.bias", "head.weight", "head.bias"});
  names.clear();
  for (const auto& [name, t] : model.named_buffers()) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"encoder.2.running_mean", "encoder.2.running_var",
                                            "encoder.2.num_batches_tracked"});
  REQUIRE(model.num_parameters() == 1 + 4 * 5 + 5 + 5 + 5 + 5 * 3 + 3);
  REQUIRE(model.state_dict().size() == 10);

  // Handles alias: writing through parameters() changes the module.
  model.parameters()[0].fill(2.0);
  REQUIRE(model.scale.item() == 2.0);
  REQUIRE_THROWS_WITH(model.forward(Tensor()), Contains("undefined"));
  nn::Module plain;
  REQUIRE_THROWS_WITH(plain.forward(Tensor::zeros({1})), Contains("Module does not take a single input"));
}

TEST_CASE("Module state_dict round trip makes two models compute the same", "[cpu]") {
  RandomStream g1(1), g2(2);
  TwoLevel a(g1), b(g2);
  const Tensor x = fer::test::random_tensor({6, 4}, 3);
  a(x);  // moves a's running statistics away from their initial values
  a.eval();
  b.eval();
  REQUIRE(a(x).to_vector() != b(x).to_vector());
  b.load_state_dict(a.state_dict());
  REQUIRE(a(x).to_vector() == b(x).to_vector());
  REQUIRE(b.state_dict().at("encoder.2.num_batches_tracked").item() == 1);
}

TEST_CASE("Module load_state_dict names missing, unexpected and mismatched keys and changes nothing", "[cpu]") {
  RandomStream g1(1), g2(2);
  TwoLevel a(g1), wide(g2, 6);
  const auto before = a.state_dict().at("head.bias").to_vector();

  auto state = wide.state_dict();
  REQUIRE_THROWS_WITH(a.load_state_dict(state), Contains("TwoLevel.load_state_dict") &&
                                                    Contains("'head.weight': checkpoint [3, 6], model [3, 5]"));
  REQUIRE(a.state_dict().at("head.bias").to_vector() == before);

  state = a.state_dict();
  state.erase("encoder.0.bias");
  state["extra.weight"] = Tensor::zeros({2});
  REQUIRE_THROWS_WITH(a.load_state_dict(state),
                      Contains("missing keys: encoder.0.bias") && Contains("unexpected keys: extra.weight"));
  a.load_state_dict(state, /*strict=*/false);  // tolerated when not strict
}

TEST_CASE("Module train/eval, zero_grad, set_requires_grad and to(dtype) reach every child", "[cpu]") {
  RandomStream rng(4);
  TwoLevel model(rng);
  model.eval();
  REQUIRE(!model.encoder->is_training());
  REQUIRE(!(*model.encoder)[2].is_training());
  model.train();
  REQUIRE((*model.encoder)[2].is_training());

  fer::mean(model(fer::test::random_tensor({4, 4}, 1))).backward();
  REQUIRE(model.head->weight.grad().defined());
  model.zero_grad();
  for (const Tensor& p : model.parameters()) REQUIRE(!p.grad().defined());

  model.set_requires_grad(false);
  for (const Tensor& p : model.parameters()) REQUIRE(!p.requires_grad());
  model.set_requires_grad(true);
  model.to(fer::DType::F64);
  for (const auto& [name, t] : model.state_dict()) REQUIRE(t.dtype() == fer::DType::F64);
  for (const Tensor& p : model.parameters()) REQUIRE(p.requires_grad());
  REQUIRE(model.head->weight.dtype() == fer::DType::F64);  // the layer's own reference follows
}

TEST_CASE("BatchNorm2d counts batches in training; Dropout and BatchNorm change behaviour in eval", "[cpu]") {
  RandomStream rng(8);
  nn::BatchNorm2d bn(3);
  const Tensor x = fer::test::random_tensor({2, 3, 5, 5}, 2);
  bn(x);
  bn(x);
  REQUIRE(bn.num_batches_tracked.item() == 2);
  bn.eval();
  bn(x);
  REQUIRE(bn.num_batches_tracked.item() == 2);
  REQUIRE_THROWS_WITH(bn(fer::test::random_tensor({2, 3}, 2)), Contains("BatchNorm2d") && Contains("[2, 3]"));

  nn::Dropout drop(0.5, rng);
  const Tensor ones = Tensor::full({1000}, 1.0);
  const std::vector<float> trained = drop(ones).to_vector();
  REQUIRE(std::count(trained.begin(), trained.end(), 0.0f) > 300);
  drop.eval();
  REQUIRE(drop(ones).to_vector() == ones.to_vector());
}
