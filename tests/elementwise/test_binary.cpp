// Broadcasting binary ops (add, sub, mul, div) and their scalar forms.
#include "kernels/elementwise/elementwise.h"
#include "tests/support/compare.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

// Naive broadcasting reference: out[i] over the output shape, operands indexed by right-aligned
// coordinates clamped to 0 on their size-1 axes.
std::vector<double> naive_broadcast(const Tensor& a, const Tensor& b, const Shape& out,
                                    double (*f)(double, double)) {
  const std::vector<double> va = a.to_vector_f64();
  const std::vector<double> vb = b.to_vector_f64();
  std::vector<double> result(static_cast<size_t>(shape_numel(out)));
  auto offset = [&](const Shape& s, const std::vector<int64_t>& index) {
    int64_t off = 0;
    for (size_t j = 0; j < s.size(); ++j) {
      const int64_t i = index[index.size() - s.size() + j];
      off = off * s[j] + (s[j] == 1 ? 0 : i);
    }
    return static_cast<size_t>(off);
  };
  std::vector<int64_t> index(out.size(), 0);
  for (size_t flat = 0; flat < result.size(); ++flat) {
    size_t rest = flat;
    for (size_t d = out.size(); d-- > 0;) {
      index[d] = static_cast<int64_t>(rest % static_cast<size_t>(out[d]));
      rest /= static_cast<size_t>(out[d]);
    }
    result[flat] = f(va[offset(a.shape(), index)], vb[offset(b.shape(), index)]);
  }
  return result;
}

struct Case {
  Shape a, b, out;
};
const std::vector<Case> kCases = {
    {{3, 5, 7, 9}, {3, 5, 7, 9}, {3, 5, 7, 9}},  // same shape
    {{3, 5, 7, 9}, {1, 5, 1, 1}, {3, 5, 7, 9}},  // per channel
    {{3, 5, 7, 9}, {3, 1, 1, 1}, {3, 5, 7, 9}},  // per sample
    {{3, 5, 7, 9}, {1}, {3, 5, 7, 9}},           // scalar tensor
    {{5, 7}, {7}, {5, 7}},                       // [C] against [N, C]
    {{5, 1, 3}, {1, 7, 1}, {5, 7, 3}},           // both sides broadcast
};

}  // namespace

TEST_CASE("add/sub/mul/div forward match a naive broadcasting loop", "[cpu]") {
  using Fn = double (*)(double, double);
  const std::vector<std::pair<Fn, Tensor (*)(const Tensor&, const Tensor&)>> ops = {
      {[](double u, double v) { return u + v; }, [](const Tensor& x, const Tensor& y) { return add(x, y); }},
      {[](double u, double v) { return u - v; }, [](const Tensor& x, const Tensor& y) { return sub(x, y); }},
      {[](double u, double v) { return u * v; }, [](const Tensor& x, const Tensor& y) { return mul(x, y); }},
      {[](double u, double v) { return u / v; }, [](const Tensor& x, const Tensor& y) { return div(x, y); }},
  };
  for (const Case& c : kCases) {
    for (DType dtype : {DType::F32, DType::F64}) {
      const Tensor a = random_tensor(c.a, 1, -1, 1, dtype);
      const Tensor b = random_tensor(c.b, 2, 0.5, 2, dtype);  // away from 0 for div
      for (const auto& [naive, op] : ops) {
        const Tensor out = op(a, b);
        REQUIRE(out.shape() == c.out);
        const Tensor ref = Tensor::from_vector(naive_broadcast(a, b, c.out, naive), c.out);
        REQUIRE_CLOSE(out, ref, 1e-6, 1e-6);
      }
    }
  }
}

TEST_CASE("add/sub/mul/div backward match finite differences, with broadcasting", "[cpu]") {
  for (const Case& c : kCases) {
    INFO("a " << shape_str(c.a) << " b " << shape_str(c.b));
    const Tensor a = random_tensor(c.a, 3, -1, 1, DType::F64).set_requires_grad();
    const Tensor b = random_tensor(c.b, 4, 0.5, 2, DType::F64).set_requires_grad();
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, {a, b});
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }, {a, b});
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, {a, b});
    // The operands swapped: the broadcast one comes first.
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sub(in[1], in[0]); }, {a, b});
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[1], in[0] + 3.0); }, {a, b});
  }
}

TEST_CASE("add/sub/mul/div backward: only the operand that requires grad gets one", "[cpu]") {
  const Tensor a = random_tensor({3, 5}, 5, -1, 1, DType::F64).set_requires_grad();
  const Tensor b = random_tensor({5}, 6, 0.5, 2, DType::F64);
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[1], in[0] + 3.0); }, {a, b});
  REQUIRE_FALSE(b.grad().defined());
}

TEST_CASE("add/mul/neg/rsub scalar forms and operators", "[cpu]") {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, -2, 3}, {3});
  REQUIRE(add(a, 0.5).to_vector() == std::vector<float>{1.5f, -1.5f, 3.5f});
  REQUIRE((a - 1.0).to_vector() == std::vector<float>{0, -3, 2});
  REQUIRE((2.0 * a).to_vector() == std::vector<float>{2, -4, 6});
  REQUIRE((-a).to_vector() == std::vector<float>{-1, 2, -3});
  REQUIRE((1.0 - a).to_vector() == std::vector<float>{0, 3, -2});
  const Tensor x = random_tensor({3, 7}, 7, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return add(in[0], 0.3); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], -1.7); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return neg(in[0]); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return rsub(2.5, in[0]); }, {x});
}

TEST_CASE("add/sub/mul/div cpu path matches the float reference, forward and backward", "[cpu]") {
  // Large enough to split over threads; odd sizes so ranges do not align with the axes.
  const std::vector<Case> cases = {{{7, 33, 17, 19}, {1, 33, 1, 1}, {7, 33, 17, 19}},
                                   {{7, 33, 17, 19}, {7, 1, 1, 1}, {7, 33, 17, 19}},
                                   {{513, 131}, {131}, {513, 131}}};
  for (const Case& c : cases) {
    INFO("a " << shape_str(c.a) << " b " << shape_str(c.b));
    const Tensor a = random_tensor(c.a, 8, -1, 1, DType::F32);
    const Tensor b = random_tensor(c.b, 9, 0.5, 2, DType::F32);
    const Tensor g = random_tensor(c.out, 10, -1, 1, DType::F32);
    const StridedShape<2> s = make_strided_shape<2>(c.out, {c.a, c.b});
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div}) {
      Tensor got = Tensor::empty(c.out), ref = Tensor::empty(c.out);
      binary_forward_cpu(op, s, a.data<float>(), b.data<float>(), got.data<float>());
      binary_forward_ref<float>(op, s, a.data<float>(), b.data<float>(), ref.data<float>());
      REQUIRE_CLOSE(got, ref, 0, 0);
    }
    for (BinaryOp op : {BinaryOp::Mul, BinaryOp::Div}) {
      Tensor ga = Tensor::empty(c.out), gb = Tensor::empty(c.out);
      Tensor ga_ref = Tensor::empty(c.out), gb_ref = Tensor::empty(c.out);
      binary_backward_cpu(op, s, a.data<float>(), b.data<float>(), g.data<float>(), ga.data<float>(),
                          gb.data<float>());
      binary_backward_ref<float>(op, s, a.data<float>(), b.data<float>(), g.data<float>(),
                                 ga_ref.data<float>(), gb_ref.data<float>());
      REQUIRE_CLOSE(ga, ga_ref, 0, 0);
      REQUIRE_CLOSE(gb, gb_ref, 0, 0);
    }
  }
}

TEST_CASE("add/sub/mul/div reject shapes that do not broadcast, naming both", "[cpu]") {
  const Tensor a = Tensor::zeros({2, 3});
  const Tensor b = Tensor::zeros({4});
  REQUIRE_THROWS_WITH(add(a, b), Catch::Contains("add: cannot broadcast shapes [2, 3] and [4]"));
  REQUIRE_THROWS_WITH(mul(Tensor::zeros({3, 5, 7}), Tensor::zeros({1, 4, 1})),
                      Catch::Contains("mul: cannot broadcast shapes [3, 5, 7] and [1, 4, 1]"));
  REQUIRE_THROWS_WITH(add(a, Tensor::zeros({2, 3}, DType::F64)), Catch::Contains("add"));
}

TEST_CASE("add_ accumulates in place and scale_ scales in place", "[cpu]") {
  Tensor dst = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  add_(dst, Tensor::from_vector(std::vector<float>{10, 20, 30}, {3}));
  REQUIRE(dst.to_vector() == std::vector<float>{11, 22, 33});
  scale_(dst, 0.5);
  REQUIRE(dst.to_vector() == std::vector<float>{5.5f, 11, 16.5f});
  REQUIRE_THROWS_WITH(add_(dst, Tensor::zeros({1, 3})), Catch::Contains("add_: shapes differ: dst [3], src [1, 3]"));
}
