// cuBLAS SGEMM: the vendor version of the gemm family (`--kernels vendor`), nvcc build only (the
// simulator does not simulate cuBLAS). Contract: gemm.h's gemm (row-major); chosen in gemm.cu.
//
// cuBLAS is column-major: a row-major C [M, N] is a column-major C^T [N, M], and
// C^T = op(B)^T op(A)^T, so the call swaps the operands (B first) and M with N; the transpose
// flags and leading dimensions carry over unchanged. The handle (kernels/runtime/vendor.h) is on
// the backend's stream with CUBLAS_DEFAULT_MATH: plain FP32, no TF32.
#ifndef FER_CUDA_SIM
#include <algorithm>
#include <climits>

#include "kernels/runtime/cuda_api.h"
#include "kernels/gemm/gemm_cuda.h"
#include "kernels/runtime/vendor.h"

namespace fer::cuda {
namespace {

int as_int(int64_t value, const char* what) {
  FER_CHECK(value >= 0 && value <= INT_MAX) << "gemm (cuBLAS): " << what << " = " << value
                                            << " does not fit cuBLAS's 32-bit int";
  return static_cast<int>(value);
}

}  // namespace

void gemm_vendor(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  // cuBLAS wants every leading dimension >= 1, even for an operand with no elements (K == 0).
  FER_CUDA_CHECK(cublasSgemm(cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, as_int(N, "N"), as_int(M, "M"),
                             as_int(K, "K"), &alpha, B, std::max(1, as_int(ldb, "ldb")), A,
                             std::max(1, as_int(lda, "lda")), &beta, C, as_int(ldc, "ldc")));
}

}  // namespace fer::cuda
#endif  // FER_CUDA_SIM
