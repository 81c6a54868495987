// Dense matrix products: GEMM, linear layers and matmul.
//
// Layout: every matrix is row-major with a leading dimension (the distance between two rows).
//   gemm:   C[M,N] = alpha * op(A) op(B) + beta * C, op(A) [M,K], op(B) [K,N]; op = transpose
//           when the flag is set (A is then stored [K,M], B [N,K]). Like BLAS, beta == 0 means C is
//           not read, so it may hold garbage (NaN) before the call.
//   linear: x [N, in], weight [out, in] (PyTorch's layout), bias [out] or nullptr, y [N, out].
//   matmul: a [M, K], b [K, N], c [M, N].
// Versions: gemm_ref<T> is three plain loops (the readable reference, float and double);
// gemm_cpu calls OpenBLAS's cblas_sgemm, which splits the work over its own threads, so callers
// invoke it from one thread. The linear and matmul kernels are written once over a GEMM and a
// flag for the version: _ref<T> runs on gemm_ref<T>, _cpu on gemm_cpu; their bias add and column
// sums are plain loops (O(N*out), negligible next to the O(N*out*in) products).
// Backward: every gradient OVERWRITES its output (dx, dweight, dbias, da, db); autograd sums.
// A nullptr gradient output is skipped.
#pragma once
#include <cstdint>

namespace fer {

template <typename T>
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);

struct LinearShape {
  int64_t N = 0;    // rows of x (batch)
  int64_t in = 0;   // input features
  int64_t out = 0;  // output features
};

// y = x W^T + b.
template <typename T>
void linear_forward_ref(const LinearShape& s, const T* x, const T* weight, const T* bias, T* y);
void linear_forward_cpu(const LinearShape& s, const float* x, const float* weight, const float* bias,
                        float* y);
// dx = dy W; dweight = dy^T x; dbias = column sums of dy.
template <typename T>
void linear_backward_ref(const LinearShape& s, const T* x, const T* weight, const T* dy, T* dx,
                         T* dweight, T* dbias);
void linear_backward_cpu(const LinearShape& s, const float* x, const float* weight, const float* dy,
                         float* dx, float* dweight, float* dbias);

struct MatmulShape {
  int64_t M = 0, N = 0, K = 0;  // a [M,K] @ b [K,N]
};

template <typename T>
void matmul_forward_ref(const MatmulShape& s, const T* a, const T* b, T* c);
void matmul_forward_cpu(const MatmulShape& s, const float* a, const float* b, float* c);
// da = dc b^T; db = a^T dc.
template <typename T>
void matmul_backward_ref(const MatmulShape& s, const T* a, const T* b, const T* dc, T* da, T* db);
void matmul_backward_cpu(const MatmulShape& s, const float* a, const float* b, const float* dc,
                         float* da, float* db);

}  // namespace fer
