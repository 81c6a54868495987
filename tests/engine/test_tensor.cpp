// Tensor factories and copies at the edge case of zero elements (a gemm with K = 0 builds such
// tensors): an empty std::vector's data() may be null, which memcpy must never see, even for
// 0 bytes. The sanitizer build (docs/architecture.md, "Sanitizers") turns such a call into a
// failure here.
#include "tests/support/compare.h"

using fer::DType;
using fer::Tensor;

TEST_CASE("tensors with zero elements are created, converted and read back", "[cpu]") {
  const Tensor d = Tensor::from_vector(std::vector<double>{}, {0, 3});
  CHECK(d.numel() == 0);
  CHECK(d.dtype() == DType::F64);
  CHECK(d.to_vector_f64().empty());
  const Tensor f = Tensor::from_vector(std::vector<float>{}, {3, 0});
  CHECK(f.numel() == 0);
  CHECK(f.to(DType::F64).to_vector().empty());
  Tensor z = Tensor::zeros({0}, DType::F64);
  z.copy_from(fer::reshape_view(d, {0}));
  CHECK(z.to_vector_f64().empty());
  CHECK(fer::test::random_tensor({2, 0}, 1, -1, 1, DType::F32).numel() == 0);
}
