// reshape, flatten, concat, slice, index_select, one_hot.
#include <numeric>

#include "kernels/elementwise/elementwise.h"
#include "tests/support/compare.h"

using namespace fer;
using fer::test::random_tensor;

namespace {
Tensor iota(const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector(v, shape);
}
}  // namespace

TEST_CASE("reshape/flatten share the data, infer -1, and pass gradients back", "[cpu]") {
  const Tensor x = iota({3, 5, 7});
  const Tensor r = reshape(x, {5, -1});
  REQUIRE(r.shape() == Shape{5, 21});
  REQUIRE(r.same_storage(x));
  REQUIRE(flatten(x).shape() == Shape{3, 35});
  REQUIRE(flatten(x, 0).shape() == Shape{105});
  REQUIRE(flatten(x, -1).shape() == Shape{3, 5, 7});
  REQUIRE_THROWS_WITH(reshape(x, {4, -1}), Catch::Contains("reshape: cannot infer the -1 of [4, -1] for shape [3, 5, 7]"));
  REQUIRE_THROWS_WITH(reshape(x, {-1, -1}), Catch::Contains("more than one -1"));
  REQUIRE_THROWS_WITH(reshape(x, {3, 5}), Catch::Contains("cannot view shape [3, 5, 7] (105 elements) as [3, 5]"));
  const Tensor xd = random_tensor({3, 5, 7}, 31, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return reshape(in[0], {7, -1}); }, {xd});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return flatten(in[0]); }, {xd});
}

TEST_CASE("concat/slice along each axis match hand-made values", "[cpu]") {
  const Tensor a = iota({2, 3});               // 0..5
  const Tensor b = add(iota({2, 1}), 100.0);  // 100, 101
  REQUIRE(concat({a, b}, 1).to_vector() == std::vector<float>{0, 1, 2, 100, 3, 4, 5, 101});
  REQUIRE(concat({a, a}, 0).to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
  REQUIRE(concat({a, b}, -1).shape() == Shape{2, 4});
  REQUIRE(slice(a, 1, 1, 3).to_vector() == std::vector<float>{1, 2, 4, 5});
  REQUIRE(slice(a, 0, 1, 2).to_vector() == std::vector<float>{3, 4, 5});
  REQUIRE(slice(a, -1, 2, 3).to_vector() == std::vector<float>{2, 5});
  // slice undoes concat
  const Tensor x = random_tensor({3, 5, 7}, 32);
  const Tensor y = random_tensor({3, 2, 7}, 33);
  const Tensor c = concat({x, y}, 1);
  REQUIRE_CLOSE(slice(c, 1, 0, 5), x, 0, 0);
  REQUIRE_CLOSE(slice(c, 1, 5, 7), y, 0, 0);
}

TEST_CASE("concat/slice backward match finite differences", "[cpu]") {
  const Tensor x = random_tensor({3, 5, 7}, 34, -1, 1, DType::F64).set_requires_grad();
  const Tensor y = random_tensor({3, 5, 3}, 35, -1, 1, DType::F64).set_requires_grad();
  const Tensor z = random_tensor({1, 5, 7}, 36, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, 2); }, {x, y});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[0]}, 0); }, {x, z});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 4); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return slice(in[0], 0, 2, 3); }, {x});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return slice(in[0], 2, 0, 5); }, {x});
}

TEST_CASE("concat/slice reject bad shapes and ranges, naming them", "[cpu]") {
  const Tensor a = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(concat({a, Tensor::zeros({3, 3})}, 1),
                      Catch::Contains("concat: shapes [2, 3] and [3, 3] differ outside axis 1"));
  REQUIRE_THROWS_WITH(concat({a, Tensor::zeros({2})}, 0), Catch::Contains("concat: shapes [2, 3] and [2]"));
  REQUIRE_THROWS_WITH(concat({a}, 2), Catch::Contains("concat: axis 2 out of range for shape [2, 3]"));
  REQUIRE_THROWS_WITH(slice(a, 1, 2, 5), Catch::Contains("slice: rows [2, 5) of axis 1"));
  REQUIRE_THROWS_WITH(slice(a, 0, 1, 1), Catch::Contains("shape [2, 3]"));
}

TEST_CASE("slice/concat cpu path matches the float reference", "[cpu]") {
  const Tensor x = random_tensor({37, 41, 29}, 37);
  const SliceShape s{37, 41, 29, 5, 33};
  Tensor y = Tensor::empty({37, 33, 29}), y_ref = Tensor::empty({37, 33, 29});
  slice_forward_cpu(s, x.data<float>(), y.data<float>());
  slice_forward_ref<float>(s, x.data<float>(), y_ref.data<float>());
  REQUIRE_CLOSE(y, y_ref, 0, 0);
  Tensor gx = Tensor::zeros({37, 41, 29}), gx_ref = Tensor::zeros({37, 41, 29});
  slice_backward_cpu(s, y_ref.data<float>(), gx.data<float>());
  slice_backward_ref<float>(s, y_ref.data<float>(), gx_ref.data<float>());
  REQUIRE_CLOSE(gx, gx_ref, 0, 0);
}

TEST_CASE("index_select gathers rows; its backward adds repeated rows", "[cpu]") {
  const Tensor x = iota({4, 2});
  REQUIRE(index_select(x, {3, 0, 3}).to_vector() == std::vector<float>{6, 7, 0, 1, 6, 7});
  const Tensor xd = random_tensor({5, 3, 7}, 38, -1, 1, DType::F64).set_requires_grad();
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return index_select(in[0], {4, 1, 4, 4, 0}); }, {xd});
  REQUIRE_THROWS_WITH(index_select(x, {1, 4}),
                      Catch::Contains("index_select: index 4 at position 1 is out of range [0, 4) for shape [4, 2]"));
  REQUIRE_THROWS_WITH(index_select(x, {-1}), Catch::Contains("index -1 at position 0"));
}

TEST_CASE("index_select cpu path matches the float reference, with duplicates", "[cpu]") {
  const int64_t rows = 37, row_size = 3001;
  std::vector<int64_t> indices;
  for (int64_t k = 0; k < 53; ++k) indices.push_back((k * 7) % rows);  // every row, some twice
  const int64_t count = static_cast<int64_t>(indices.size());
  const Tensor x = random_tensor({rows, row_size}, 39);
  Tensor y = Tensor::empty({count, row_size}), y_ref = Tensor::empty({count, row_size});
  index_select_forward_cpu(row_size, indices.data(), count, x.data<float>(), y.data<float>());
  index_select_forward_ref<float>(row_size, indices.data(), count, x.data<float>(), y_ref.data<float>());
  REQUIRE_CLOSE(y, y_ref, 0, 0);
  Tensor gx = Tensor::zeros({rows, row_size}), gx_ref = Tensor::zeros({rows, row_size});
  index_select_backward_cpu(row_size, indices.data(), count, y_ref.data<float>(), gx.data<float>());
  index_select_backward_ref<float>(row_size, indices.data(), count, y_ref.data<float>(), gx_ref.data<float>());
  REQUIRE_CLOSE(gx, gx_ref, 0, 0);
}

TEST_CASE("one_hot encodes integer labels and names a bad label and its position", "[cpu]") {
  const Tensor labels = Tensor::from_vector(std::vector<float>{2, 0, 1}, {3});
  const Tensor h = one_hot(labels, 3);
  REQUIRE(h.shape() == Shape{3, 3});
  REQUIRE(h.to_vector() == std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0});
  REQUIRE_FALSE(h.requires_grad());
  REQUIRE_THROWS_WITH(one_hot(Tensor::from_vector(std::vector<float>{0, 7}, {2}), 7),
                      Catch::Contains("one_hot: label 7 at position 1 is not a class index in [0, 7)"));
  REQUIRE_THROWS_WITH(one_hot(Tensor::from_vector(std::vector<float>{1.5f}, {1}), 7),
                      Catch::Contains("one_hot: label 1.5 at position 0 is not a class index"));
  REQUIRE_THROWS_WITH(one_hot(Tensor::from_vector(std::vector<float>{-1}, {1}), 7),
                      Catch::Contains("label -1 at position 0 is not a class index"));
  REQUIRE_THROWS_WITH(one_hot(Tensor::zeros({2, 2}), 7), Catch::Contains("one_hot: labels must be a [N] tensor"));
}
