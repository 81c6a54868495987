// batch_norm, instance_norm and spectral_normalize against PyTorch (tests/fixtures/make_norm.py).
#include "engine/safetensors.h"
#include "tests/support/compare.h"

using namespace fer;

namespace {

std::map<std::string, Tensor> fixture(const std::string& name) {
  return load_safetensors(fer::test::fixture_path(name));
}

Tensor leaf(const Tensor& t) {
  Tensor copy = t.clone();
  copy.set_requires_grad();
  return copy;
}

}  // namespace

TEST_CASE("batch_norm training matches PyTorch: forward, grads, running stats", "[cpu]") {
  auto f = fixture("norm_batch_norm.safetensors");
  Tensor x = leaf(f["x"]), weight = leaf(f["weight"]), bias = leaf(f["bias"]);
  Tensor running_mean = f["running_mean"].clone(), running_var = f["running_var"].clone();
  const Tensor y = batch_norm(x, weight, bias, running_mean, running_var, true, 0.1, 1e-5);
  y.backward(f["dy"]);
  REQUIRE_CLOSE(y, f["y"], 1e-5, 1e-5);
  REQUIRE_CLOSE(x.grad(), f["dx"], 1e-5, 1e-4);
  REQUIRE_CLOSE(weight.grad(), f["dweight"], 1e-4, 1e-4);
  REQUIRE_CLOSE(bias.grad(), f["dbias"], 1e-4, 1e-4);
  REQUIRE_CLOSE(running_mean, f["running_mean_after"], 1e-6, 1e-5);
  REQUIRE_CLOSE(running_var, f["running_var_after"], 1e-6, 1e-5);
}

TEST_CASE("instance_norm matches PyTorch: forward and grads", "[cpu]") {
  auto f = fixture("norm_instance_norm.safetensors");
  Tensor x = leaf(f["x"]), weight = leaf(f["weight"]), bias = leaf(f["bias"]);
  const Tensor y = instance_norm(x, weight, bias, 1e-5);
  y.backward(f["dy"]);
  REQUIRE_CLOSE(y, f["y"], 1e-5, 1e-5);
  REQUIRE_CLOSE(x.grad(), f["dx"], 1e-5, 1e-4);
  REQUIRE_CLOSE(weight.grad(), f["dweight"], 1e-4, 1e-4);
  REQUIRE_CLOSE(bias.grad(), f["dbias"], 1e-4, 1e-4);
}

TEST_CASE("spectral_normalize matches PyTorch after one power iteration", "[cpu]") {
  auto f = fixture("norm_spectral_norm.safetensors");
  Tensor weight = leaf(f["weight"]);
  Tensor u = f["u"].clone();
  const Tensor y = spectral_normalize(weight, u, 1, true);
  y.backward(f["dy"]);
  REQUIRE_CLOSE(y, f["y"], 1e-5, 1e-5);
  REQUIRE_CLOSE(u, f["u_after"], 1e-6, 1e-5);
  REQUIRE_CLOSE(weight.grad(), f["dweight"], 1e-5, 1e-4);
}
