// Broadcasting binary ops, activations and reductions against PyTorch
// (tests/fixtures/make_elementwise.py): outputs and gradients, on both cpu paths (float32: the
// optimized kernels; float64: the references).
#include <functional>
#include <map>
#include <string>

#include "engine/safetensors.h"
#include "tests/support/compare.h"

using namespace fer;

namespace {

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on the case's inputs with the fixture's dy and compares y and each input's gradient
// (input "a" -> "da") with PyTorch's.
void require_matches_fixture(const std::string& name, const std::vector<std::string>& inputs, const Op& op) {
  static const std::map<std::string, Tensor> t = load_safetensors(test::fixture_path("elementwise_ops.safetensors"));
  auto get = [&](const std::string& key) {
    const auto it = t.find(name + "." + key);
    FER_CHECK(it != t.end()) << "elementwise_ops.safetensors has no tensor " << name << "." << key;
    return it->second;
  };
  for (const DType dtype : {DType::F32, DType::F64}) {
    INFO("case " << name << ", " << dtype_name(dtype));
    std::vector<Tensor> leaves;
    for (const std::string& key : inputs) {
      Tensor leaf = get(key).to(dtype).clone();
      leaf.set_requires_grad();
      leaves.push_back(leaf);
    }
    const Tensor y = op(leaves);
    y.backward(get("dy").to(dtype));
    REQUIRE_CLOSE(y, get("y"), 1e-5, 1e-4);
    for (size_t i = 0; i < inputs.size(); ++i) REQUIRE_CLOSE(leaves[i].grad(), get("d" + inputs[i]), 1e-5, 1e-4);
  }
}

}  // namespace

TEST_CASE("mul/div/sub with broadcasting match PyTorch, forward and backward", "[cpu]") {
  require_matches_fixture("mul_channel", {"a", "b"}, [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); });
  require_matches_fixture("div_row", {"a", "b"}, [](const std::vector<Tensor>& in) { return div(in[0], in[1]); });
  require_matches_fixture("sub_both", {"a", "b"}, [](const std::vector<Tensor>& in) { return sub(in[0], in[1]); });
}

TEST_CASE("relu/leaky_relu/tanh/sigmoid/clamp match PyTorch, forward and backward", "[cpu]") {
  require_matches_fixture("relu", {"x"}, [](const std::vector<Tensor>& in) { return relu(in[0]); });
  require_matches_fixture("leaky_relu", {"x"}, [](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.2); });
  require_matches_fixture("tanh", {"x"}, [](const std::vector<Tensor>& in) { return fer::tanh(in[0]); });
  require_matches_fixture("sigmoid", {"x"}, [](const std::vector<Tensor>& in) { return sigmoid(in[0]); });
  require_matches_fixture("clamp", {"x"}, [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.25); });
}

TEST_CASE("sum/mean over axes match PyTorch, forward and backward", "[cpu]") {
  require_matches_fixture("sum_axes02_keepdim", {"x"},
                          [](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}, true); });
  require_matches_fixture("mean_axis1", {"x"}, [](const std::vector<Tensor>& in) { return mean(in[0], {1}); });
}
