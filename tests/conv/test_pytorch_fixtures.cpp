// conv2d, conv_transpose2d and linear against PyTorch (tests/fixtures/make_conv.py): the output
// and every gradient, on both cpu paths (float32: the optimized kernels; float64: the references).
#include <functional>
#include <map>
#include <string>

#include "engine/safetensors.h"
#include "tests/support/compare.h"

using namespace fer;

namespace {

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on the case's x, weight and bias with the fixture's dy, and compares y, dx, dweight and
// dbias with PyTorch's.
void require_matches_fixture(const std::string& file, const std::string& name, const Op& op) {
  const std::map<std::string, Tensor> t = load_safetensors(test::fixture_path(file));
  auto get = [&](const std::string& key) {
    const auto it = t.find(name + "." + key);
    FER_CHECK(it != t.end()) << file << " has no tensor " << name << "." << key;
    return it->second;
  };
  for (const DType dtype : {DType::F32, DType::F64}) {
    INFO(file << ", case " << name << ", " << dtype_name(dtype));
    std::vector<Tensor> inputs;
    for (const char* key : {"x", "weight", "bias"}) {
      Tensor input = get(key).to(dtype).clone();
      input.set_requires_grad();
      inputs.push_back(input);
    }
    const Tensor y = op(inputs);
    y.backward(get("dy").to(dtype));
    REQUIRE_CLOSE(y, get("y"), 1e-5, 1e-4);
    REQUIRE_CLOSE(inputs[0].grad(), get("dx"), 1e-5, 1e-4);
    REQUIRE_CLOSE(inputs[1].grad(), get("dweight"), 1e-5, 1e-4);
    REQUIRE_CLOSE(inputs[2].grad(), get("dbias"), 1e-5, 1e-4);
  }
}

Op conv2d_op(int stride, int padding) {
  return [=](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {stride, padding}); };
}
Op conv_transpose2d_op(int stride, int padding, int output_padding) {
  return [=](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], in[2], {stride, padding, output_padding});
  };
}

}  // namespace

TEST_CASE("conv2d matches PyTorch, forward and gradients", "[cpu]") {
  require_matches_fixture("conv_conv2d.safetensors", "k4s2p1", conv2d_op(2, 1));
  require_matches_fixture("conv_conv2d.safetensors", "k3s1p1", conv2d_op(1, 1));
}

TEST_CASE("conv_transpose2d matches PyTorch, forward and gradients", "[cpu]") {
  require_matches_fixture("conv_conv_transpose2d.safetensors", "k4s2p1", conv_transpose2d_op(2, 1, 0));
  require_matches_fixture("conv_conv_transpose2d.safetensors", "k3s2p1op1", conv_transpose2d_op(2, 1, 1));
}

TEST_CASE("linear matches PyTorch, forward and gradients", "[cpu]") {
  require_matches_fixture("conv_linear.safetensors", "linear",
                          [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); });
}
