// GEMM, linear and matmul kernels. See gemm.h for layouts, threading and what the backward writes.
#include "kernels/gemm/gemm.h"

#include <cblas.h>

namespace fer {

template <typename T>
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      // beta == 0 must not read C (BLAS semantics): it may be uninitialized.
      C[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
  }
}

template void gemm_ref<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                              const float*, int64_t, float, float*, int64_t);
template void gemm_ref<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                               const double*, int64_t, double, double*, int64_t);

void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    // BLAS rejects the leading dimensions of an empty A or B; the loops handle it (C = beta C).
    gemm_ref<float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

namespace {

// The GEMM of one version: gemm_ref<T> or gemm_cpu.
template <typename T>
using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,
                        int64_t, T, T*, int64_t);

template <typename T>
void linear_forward_with(GemmFn<T> gemm, const LinearShape& s, const T* x, const T* weight,
                         const T* bias, T* y) {
  // Each row of y starts as the bias, and the product is added to it (beta = 1).
  if (bias) {
    for (int64_t i = 0; i < s.N; ++i)
      for (int64_t o = 0; o < s.out; ++o) y[i * s.out + o] = bias[o];
  }
  gemm(false, true, s.N, s.out, s.in, T(1), x, s.in, weight, s.in, bias ? T(1) : T(0), y, s.out);
}

template <typename T>
void linear_backward_with(GemmFn<T> gemm, const LinearShape& s, const T* x, const T* weight,
                          const T* dy, T* dx, T* dweight, T* dbias) {
  if (dx) gemm(false, false, s.N, s.in, s.out, T(1), dy, s.out, weight, s.in, T(0), dx, s.in);
  if (dweight) gemm(true, false, s.out, s.in, s.N, T(1), dy, s.out, x, s.in, T(0), dweight, s.in);
  if (dbias) {
    for (int64_t o = 0; o < s.out; ++o) dbias[o] = 0;
    for (int64_t i = 0; i < s.N; ++i)  // row by row: reads dy in order
      for (int64_t o = 0; o < s.out; ++o) dbias[o] += dy[i * s.out + o];
  }
}

template <typename T>
void matmul_forward_with(GemmFn<T> gemm, const MatmulShape& s, const T* a, const T* b, T* c) {
  gemm(false, false, s.M, s.N, s.K, T(1), a, s.K, b, s.N, T(0), c, s.N);
}

template <typename T>
void matmul_backward_with(GemmFn<T> gemm, const MatmulShape& s, const T* a, const T* b, const T* dc,
                          T* da, T* db) {
  if (da) gemm(false, true, s.M, s.K, s.N, T(1), dc, s.N, b, s.N, T(0), da, s.K);
  if (db) gemm(true, false, s.K, s.N, s.M, T(1), a, s.K, dc, s.N, T(0), db, s.N);
}

}  // namespace

template <typename T>
void linear_forward_ref(const LinearShape& s, const T* x, const T* weight, const T* bias, T* y) {
  linear_forward_with<T>(gemm_ref<T>, s, x, weight, bias, y);
}
template <typename T>
void linear_backward_ref(const LinearShape& s, const T* x, const T* weight, const T* dy, T* dx,
                         T* dweight, T* dbias) {
  linear_backward_with<T>(gemm_ref<T>, s, x, weight, dy, dx, dweight, dbias);
}
template <typename T>
void matmul_forward_ref(const MatmulShape& s, const T* a, const T* b, T* c) {
  matmul_forward_with<T>(gemm_ref<T>, s, a, b, c);
}
template <typename T>
void matmul_backward_ref(const MatmulShape& s, const T* a, const T* b, const T* dc, T* da, T* db) {
  matmul_backward_with<T>(gemm_ref<T>, s, a, b, dc, da, db);
}

void linear_forward_cpu(const LinearShape& s, const float* x, const float* weight, const float* bias,
                        float* y) {
  linear_forward_with<float>(gemm_cpu, s, x, weight, bias, y);
}
void linear_backward_cpu(const LinearShape& s, const float* x, const float* weight, const float* dy,
                         float* dx, float* dweight, float* dbias) {
  linear_backward_with<float>(gemm_cpu, s, x, weight, dy, dx, dweight, dbias);
}
void matmul_forward_cpu(const MatmulShape& s, const float* a, const float* b, float* c) {
  matmul_forward_with<float>(gemm_cpu, s, a, b, c);
}
void matmul_backward_cpu(const MatmulShape& s, const float* a, const float* b, const float* dc,
                         float* da, float* db) {
  matmul_backward_with<float>(gemm_cpu, s, a, b, dc, da, db);
}

#define FER_INSTANTIATE_GEMM_FAMILY(T)                                                          \
  template void linear_forward_ref<T>(const LinearShape&, const T*, const T*, const T*, T*);     \
  template void linear_backward_ref<T>(const LinearShape&, const T*, const T*, const T*, T*, T*, \
                                       T*);                                                      \
  template void matmul_forward_ref<T>(const MatmulShape&, const T*, const T*, T*);               \
  template void matmul_backward_ref<T>(const MatmulShape&, const T*, const T*, const T*, T*, T*);
FER_INSTANTIATE_GEMM_FAMILY(float)
FER_INSTANTIATE_GEMM_FAMILY(double)
#undef FER_INSTANTIATE_GEMM_FAMILY

}  // namespace fer
