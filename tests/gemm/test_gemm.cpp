// gemm, linear and matmul on the cpu: hand-computed cases, gradient checks in float64 at odd
// sizes, the OpenBLAS path against the loops, and the shape errors.
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_vs_ref.h"

using namespace fer;
using fer::test::random_param;
using fer::test::random_tensor;

namespace {

// Every stored element of a row-major [rows, cols] matrix with leading dimension ld, padding
// columns included, so that a kernel writing outside its columns is caught.
std::vector<float> random_matrix(int64_t rows, int64_t ld, uint64_t seed) {
  return random_tensor({rows, ld}, seed).to_vector();
}

}  // namespace

TEST_CASE("gemm_ref computes a hand-computed product with every transpose", "[cpu]") {
  // A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [2, 1], [0, 3]]: A B = [[5, 11], [14, 23]].
  const std::vector<double> A{1, 2, 3, 4, 5, 6}, At{1, 4, 2, 5, 3, 6};
  const std::vector<double> B{1, 0, 2, 1, 0, 3}, Bt{1, 2, 0, 0, 1, 3};
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      std::vector<double> C{1, 1, 1, 1};
      gemm_ref<double>(ta, tb, 2, 2, 3, 2.0, ta ? At.data() : A.data(), ta ? 2 : 3, tb ? Bt.data() : B.data(),
                       tb ? 3 : 2, 0.5, C.data(), 2);
      INFO("trans_a " << ta << ", trans_b " << tb);
      REQUIRE(C == std::vector<double>{10.5, 22.5, 28.5, 46.5});
    }
}

TEST_CASE("gemm_cpu matches gemm_ref at odd sizes, strides and every transpose", "[cpu]") {
  const int64_t M = 13, N = 7, K = 19;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true})
      for (const float beta : {0.0f, 0.75f}) {
        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
        const std::vector<float> A = random_matrix(ta ? K : M, lda, 1), B = random_matrix(tb ? N : K, ldb, 2);
        std::vector<float> got = random_matrix(M, ldc, 3), ref = got;
        gemm_cpu(ta, tb, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, beta, got.data(), ldc);
        gemm_ref<float>(ta, tb, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, beta, ref.data(), ldc);
        INFO("trans_a " << ta << ", trans_b " << tb << ", beta " << beta);
        const CompareResult r = compare_values(got, ref, 1e-5, 1e-5, "C");
        INFO(r.report);
        REQUIRE(r.ok);
      }
}

TEST_CASE("linear computes x W^T + b on a hand-computed case", "[cpu]") {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, -1, 0, 2}, {2, 3});
  const Tensor w = Tensor::from_vector(std::vector<float>{1, 0, 1, 0, 2, -1}, {2, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{0.5, -1}, {2});
  REQUIRE_CLOSE(linear(x, w, b), Tensor::from_vector(std::vector<double>{4.5, 0, 1.5, -3}, {2, 2}), 1e-6, 1e-6);
  REQUIRE_CLOSE(linear(x, w, Tensor()), Tensor::from_vector(std::vector<double>{4, 1, 1, -2}, {2, 2}), 1e-6, 1e-6);
}

TEST_CASE("linear gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  REQUIRE_GRADCHECK(f, {random_param({5, 7}, 1), random_param({3, 7}, 2), random_param({3}, 3)});
  REQUIRE_GRADCHECK(f, {random_param({1, 11}, 4), random_param({9, 11}, 5), Tensor()});
}

TEST_CASE("linear cpu path matches the reference, forward and backward", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({33, 47}, 1), random_param({29, 47}, 2), random_param({29}, 3)}), 1e-5, 1e-5);
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({3, 5}, 4), random_param({7, 5}, 5), Tensor()}), 1e-5, 1e-5);
}

TEST_CASE("linear rejects mismatched shapes, naming both", "[cpu]") {
  const Tensor x = Tensor::zeros({2, 3}), w = Tensor::zeros({4, 5});
  REQUIRE_THROWS_WITH(linear(x, w, Tensor()),
                      Catch::Contains("linear: input [2, 3] has 3 features but weight [4, 5] expects 5"));
  REQUIRE_THROWS_WITH(linear(x, Tensor::zeros({4, 3}), Tensor::zeros({3})),
                      Catch::Contains("linear: bias [3] does not match weight [4, 3]"));
  REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3, 1}), w, Tensor()), Catch::Contains("[2, 3, 1]"));
}

TEST_CASE("matmul computes a hand-computed product", "[cpu]") {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{1, 0, 2, 1, 0, 3}, {3, 2});
  REQUIRE_CLOSE(matmul(a, b), Tensor::from_vector(std::vector<double>{5, 11, 14, 23}, {2, 2}), 1e-6, 1e-6);
}

TEST_CASE("matmul gradients match finite differences", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  REQUIRE_GRADCHECK(f, {random_param({5, 7}, 1), random_param({7, 3}, 2)});
}

TEST_CASE("matmul cpu path matches the reference, forward and backward", "[cpu]") {
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  REQUIRE_CPU_MATCHES_REF(f, (std::vector<Tensor>{random_param({37, 23}, 1), random_param({23, 41}, 2)}), 1e-5, 1e-5);
}

TEST_CASE("matmul rejects mismatched inner sizes, naming both shapes", "[cpu]") {
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                      Catch::Contains("matmul: [2, 3] @ [4, 5]: inner sizes 3 and 4 differ"));
}
