// cross_entropy, bce_with_logits, l1_loss, mse_loss on cuda-sim (and cuda): the loss and both
// gradients against the cpu path, at sizes that use one and several blocks of the two-pass sum
// (one variant each: see kernels/loss/loss.cu).
#include <cmath>

#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

Tensor param(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = random_tensor(shape, seed, lo, hi);
  t.set_requires_grad();
  return t;
}

Tensor labels(int64_t batch, int64_t classes, uint64_t seed) {
  const Tensor r = random_tensor({batch}, seed, 0, static_cast<double>(classes));
  std::vector<float> values = r.to_vector();
  for (float& v : values) v = std::floor(v);
  return Tensor::from_vector(values, {batch});
}

// b equal to a at every third element: the l1 gradient is 0 there.
Tensor partly_equal(const Tensor& a, uint64_t seed) {
  std::vector<float> values = random_tensor(a.shape(), seed).to_vector();
  const std::vector<float> a_values = a.to_vector();
  for (size_t i = 0; i < values.size(); i += 3) values[i] = a_values[i];
  Tensor t = Tensor::from_vector(values, a.shape());
  t.set_requires_grad();
  return t;
}

using LossFn = Tensor (*)(const Tensor&, const Tensor&);

}  // namespace

FER_CUDA_TEST_CASE("cross_entropy matches the cpu", "[loss]") {
  auto f = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); };
  for (const auto& [batch, classes] : {std::pair<int64_t, int64_t>{37, 7}, {5, 1}, {3, 301}}) {
    INFO("batch " << batch << " classes " << classes);
    const std::vector<Tensor> inputs{param({batch, classes}, 1, -30, 30), labels(batch, classes, 2)};
    REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, 1e-5, 1e-5);
  }
}

FER_CUDA_TEST_CASE("bce_with_logits, l1_loss and mse_loss match the cpu", "[loss]") {
  for (const auto& [name, loss] : {std::pair<const char*, LossFn>{"bce_with_logits", bce_with_logits},
                                   {"l1_loss", l1_loss}, {"mse_loss", mse_loss}}) {
    // 315 elements: two blocks of the first pass; 70001: 274 blocks
    for (const Shape& shape : {Shape{5, 7, 9}, Shape{70001}}) {
      INFO(name << " " << shape_str(shape));
      auto f = [loss](const std::vector<Tensor>& in) { return loss(in[0], in[1]); };
      const Tensor a = param(shape, 3, -20, 20);
      const Tensor b = std::string(name) == "bce_with_logits" ? param(shape, 4, 0, 1) : partly_equal(a, 4);
      REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{a, b}), 1e-6, 1e-5);
    }
  }
}
