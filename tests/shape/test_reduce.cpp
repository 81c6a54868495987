// sum and mean, over all elements and over axes.
#include "kernels/reduce/reduce.h"
#include "tests/support/compare.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

// Naive sum of x [A, B, C] over the axes flagged in `summed`, keepdim layout.
std::vector<double> naive_sum3(const Tensor& x, const std::array<bool, 3>& summed) {
  const Shape& s = x.shape();
  const std::vector<double> v = x.to_vector_f64();
  const int64_t oa = summed[0] ? 1 : s[0], ob = summed[1] ? 1 : s[1], oc = summed[2] ? 1 : s[2];
  std::vector<double> out(static_cast<size_t>(oa * ob * oc), 0.0);
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t c = 0; c < s[2]; ++c) {
        const int64_t o = ((summed[0] ? 0 : a) * ob + (summed[1] ? 0 : b)) * oc + (summed[2] ? 0 : c);
        out[static_cast<size_t>(o)] += v[static_cast<size_t>((a * s[1] + b) * s[2] + c)];
      }
  return out;
}

}  // namespace

TEST_CASE("sum/mean over axes match a naive loop, with and without keepdim", "[cpu]") {
  const Tensor x = random_tensor({5, 7, 3}, 21, -1, 1, DType::F64);
  const std::vector<std::vector<int64_t>> axis_lists = {{0}, {1}, {2}, {0, 2}, {-1, 0}, {0, 1, 2}};
  for (const auto& axes : axis_lists) {
    std::array<bool, 3> summed{false, false, false};
    int64_t count = 1;
    for (int64_t a : axes) {
      summed[static_cast<size_t>(a < 0 ? a + 3 : a)] = true;
      count *= x.shape()[static_cast<size_t>(a < 0 ? a + 3 : a)];
    }
    Shape keep_shape = x.shape();
    for (size_t d = 0; d < 3; ++d)
      if (summed[d]) keep_shape[d] = 1;
    const std::vector<double> ref = naive_sum3(x, summed);
    const Tensor s = sum(x, axes, true);
    REQUIRE(s.shape() == keep_shape);
    REQUIRE_CLOSE(s, Tensor::from_vector(ref, keep_shape), 1e-12, 1e-12);
    std::vector<double> ref_mean = ref;
    for (double& v : ref_mean) v /= static_cast<double>(count);
    REQUIRE_CLOSE(mean(x, axes, true), Tensor::from_vector(ref_mean, keep_shape), 1e-12, 1e-12);
    const Tensor dropped = sum(x, axes, false);
    REQUIRE(dropped.numel() == s.numel());
    REQUIRE(dropped.dim() == (axes.size() == 3 ? 1 : 3 - static_cast<int64_t>(axes.size())));
  }
  REQUIRE(sum(x).shape() == Shape{1});
  REQUIRE(sum(x).item() == Approx(naive_sum3(x, {true, true, true})[0]));
  REQUIRE(mean(x).item() == Approx(naive_sum3(x, {true, true, true})[0] / 105));
}

TEST_CASE("sum/mean backward match finite differences", "[cpu]") {
  const Tensor x = random_tensor({3, 5, 7}, 22, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0]); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0]); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0], {0, 2}, true); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0], {-1}); }, {x});
}

TEST_CASE("sum cpu path matches the float reference, forward and backward", "[cpu]") {
  // Many outputs (threads over outputs), few outputs with long rows (threads within a sum), and
  // a full sum; odd sizes throughout.
  const std::vector<std::pair<Shape, Shape>> cases = {{{33, 17, 129}, {33, 17, 1}},
                                                      {{33, 17, 129}, {1, 17, 1}},
                                                      {{3, 100003}, {3, 1}},
                                                      {{7, 33, 17, 19}, {1, 1, 1, 1}},
                                                      {{513, 131}, {131}}};
  for (const auto& [full, kept] : cases) {
    INFO(shape_str(full) << " -> " << shape_str(kept));
    const StridedShape<1> s = make_strided_shape<1>(full, {kept});
    const Tensor x = random_tensor(full, 23);
    Tensor y = Tensor::empty(kept), y_ref = Tensor::empty(kept);
    sum_forward_cpu(s, 0.5, x.data<float>(), y.data<float>());
    sum_forward_ref<float>(s, 0.5, x.data<float>(), y_ref.data<float>());
    REQUIRE_CLOSE(y, y_ref, 1e-6, 1e-6);  // the threads' partial sums add in another order
    Tensor gx = Tensor::empty(full), gx_ref = Tensor::empty(full);
    sum_backward_cpu(s, 0.5, y_ref.data<float>(), gx.data<float>());
    sum_backward_ref<float>(s, 0.5, y_ref.data<float>(), gx_ref.data<float>());
    REQUIRE_CLOSE(gx, gx_ref, 0, 0);
  }
}

TEST_CASE("sum/mean reject bad axes, naming the shape", "[cpu]") {
  const Tensor x = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(sum(x, {2}), Catch::Contains("sum: axis 2 out of range for shape [2, 3]"));
  REQUIRE_THROWS_WITH(mean(x, {1, -1}), Catch::Contains("mean: axis -1 listed twice for shape [2, 3]"));
  REQUIRE_THROWS_WITH(sum(x, {}), Catch::Contains("sum: empty axis list"));
}
