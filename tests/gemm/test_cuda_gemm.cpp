// gemm, linear and matmul on cuda-sim (and cuda): every native variant (gemm_cuda.h) against the
// cpu, at sizes that are not multiples of any tile (37 x 29 x 53), with padded leading dimensions
// that allow float4 loads (multiples of 4) and that do not (odd, or a misaligned base pointer),
// every transpose, beta 0 (C holds NaN, which must not be read) and beta != 0, and a K long
// enough to be split (split-K with a ragged last range).
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm/gemm_cuda.h"
#include "kernels/runtime/kernel_choice.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

void select_gemm_variant(Device device, int variant) { FER_CALL_ON(device, set_gemm_variant, variant); }

// Runs body once per variant (0 automatic, 1 naive, 2 and 3 tiled), leaving 0 selected.
template <typename Body>
void for_each_variant(Device device, Body body) {
  for (int variant : {1, 2, 3, 0}) {
    INFO("variant " << variant);
    select_gemm_variant(device, variant);
    body();
  }
  select_gemm_variant(device, 0);
}

void device_gemm(Device device, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  FER_CALL_ON(device, gemm_cuda, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// C = alpha op(A) op(B) + beta C on the device and with gemm_ref, stored elements compared
// (padding columns of C included: a kernel writing outside its columns is caught). `offset`
// shifts A and B by that many floats inside their buffers (offset 1: not 16-byte aligned).
void check_gemm(Device device, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t pad, int64_t offset,
                float beta) {
  INFO("trans_a " << ta << ", trans_b " << tb << ", M " << M << ", N " << N << ", K " << K << ", pad " << pad
                  << ", offset " << offset << ", beta " << beta);
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
  const Tensor A = random_tensor({a_rows * lda + offset}, 1), B = random_tensor({b_rows * ldb + offset}, 2);
  Tensor C = random_tensor({M * ldc}, 3);
  if (beta == 0) {  // NaN everywhere inside the product's columns: beta == 0 must not read them
    std::vector<float> c = C.to_vector();
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) c[static_cast<size_t>(i * ldc + j)] = std::numeric_limits<float>::quiet_NaN();
    C = Tensor::from_vector(c, {M * ldc});
  }
  const Tensor A_dev = A.to(device), B_dev = B.to(device), C_dev = C.to(device).clone();
  device_gemm(device, ta, tb, M, N, K, 1.5f, A_dev.data<float>() + offset, lda, B_dev.data<float>() + offset, ldb,
              beta, C_dev.data<float>(), ldc);
  const Tensor ref = C.clone();
  gemm_ref<float>(ta, tb, M, N, K, 1.5f, A.data<float>() + offset, lda, B.data<float>() + offset, ldb, beta,
                  ref.data<float>(), ldc);
  REQUIRE_CLOSE(C_dev.to(Device::CPU), ref, 2e-5, 1e-4);
}

Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  t.set_requires_grad();
  return t;
}

}  // namespace

FER_CUDA_TEST_CASE("gemm matches the cpu with every transpose, beta and alignment", "[gemm]") {
  for_each_variant(device, [&] {
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        check_gemm(device, ta, tb, 37, 29, 53, 3, 0, 0.0f);     // lda 56 or 40: float4 loads, ragged edges
        check_gemm(device, ta, tb, 37, 29, 53, 2, 0, 0.75f);    // odd leading dimensions: scalar loads
        check_gemm(device, ta, tb, 13, 7, 19, 3, 1, 0.75f);     // misaligned base pointers
      }
  });
}

FER_CUDA_TEST_CASE("gemm splits a long K and adds the partials", "[gemm]") {
  for_each_variant(device, [&] {
    check_gemm(device, false, true, 37, 29, 401, 3, 0, 0.0f);  // 3 ranges of 136, 136, 129
    check_gemm(device, true, false, 11, 45, 267, 1, 0, 0.5f);  // 2 ranges
  });
}

FER_CUDA_TEST_CASE("gemm handles empty products", "[gemm]") {
  for_each_variant(device, [&] {
    check_gemm(device, false, false, 5, 3, 0, 1, 0, 0.5f);  // K = 0: C = beta C
    check_gemm(device, false, false, 0, 3, 4, 1, 0, 0.5f);  // nothing to do
  });
}

FER_CUDA_TEST_CASE("gemm rejects leading dimensions that are too small", "[gemm]") {
  const Tensor buffer = Tensor::zeros({64}, DType::F32, device);
  float* p = buffer.data<float>();
  REQUIRE_THROWS_WITH(device_gemm(device, false, false, 4, 4, 4, 1.0f, p, 3, p, 4, 0.0f, p, 4),
                      Catch::Contains("lda=3"));
}

FER_CUDA_TEST_CASE("linear matches the cpu, forward and backward, with and without bias", "[gemm]") {
  auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto without_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); };
  for_each_variant(device, [&] {
    REQUIRE_DEVICE_MATCHES_CPU(device, with_bias, (std::vector<Tensor>{param({37, 53}, 4), param({29, 53}, 5), param({29}, 6)}),
                               2e-5, 1e-4);
    REQUIRE_DEVICE_MATCHES_CPU(device, without_bias, (std::vector<Tensor>{param({7, 33}, 7), param({13, 33}, 8)}), 2e-5, 1e-4);
  });
}

FER_CUDA_TEST_CASE("matmul matches the cpu, forward and backward", "[gemm]") {
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  for_each_variant(device, [&] {
    REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{param({37, 53}, 9), param({53, 29}, 10)}), 2e-5, 1e-4);
  });
}

#ifdef FER_WITH_CUDA
FER_CUDA_TEST_CASE("gemm cuBLAS version matches the cpu", "[gemm]") {
  if (device != Device::CUDA) return;  // vendor libraries are not simulated
  cuda::set_kernel_choice("gemm", KernelChoice::Vendor);
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) check_gemm(device, ta, tb, 37, 29, 53, 3, 0, 0.0f);
  check_gemm(device, false, false, 5, 3, 0, 1, 0, 0.5f);
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  REQUIRE_DEVICE_MATCHES_CPU(device, f, (std::vector<Tensor>{param({37, 53}, 4), param({29, 53}, 5), param({29}, 6)}),
                             2e-5, 1e-4);
  cuda::set_kernel_choice("gemm", KernelChoice::Native);
}
#endif
