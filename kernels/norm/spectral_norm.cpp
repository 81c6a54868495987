// Spectral normalization on the CPU. See norm.h for the layout and the contract.
//
// Forward: power iteration on W [rows, cols] with the persistent left vector u:
//   v = normalize(W^T u), u = normalize(W v)   (power_iterations times, training only),
//   sigma = u^T W v,  y = W / sigma.
// Backward, with u and v held constant (as PyTorch does): sigma = u^T W v gives
// d sigma / dW = u v^T, so for y = W / sigma and upstream gradient G
//   dW = G / sigma - (sum(G * W) / sigma^2) u v^T.
// When v = normalize(W^T u) (eval, fixed u) this is also the exact gradient: u^T W = sigma v^T
// and v^T dv = 0 for a unit v, so the terms through dv/dW vanish.
//
// Versions: _ref<T> accumulates every sum in double, one thread. The forward's _cpu takes the same
// steps in float with the matrix-vector products on OpenBLAS's sgemv (vectorized, on its threads),
// sigma = u . (W v) from the last product instead of another pass over W, and y = W / sigma split
// over OpenMP's threads (the reference took 33 ms per training step, 1-2% of it, at any thread
// count). The backward's _cpu: sum(G * W) in double lanes on one thread, then dW in float, rows
// split over OpenMP's threads (the reference: about 11 ms per stage-1 step, this 6).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/elementwise/parallel.h"
#include "kernels/norm/norm.h"

namespace fer {

namespace {

// out = W^T a  (a [rows], out [cols]), then normalized. W is read row by row, each row scaled
// into per-column sums: walking a column of a 512 x 4096 weight instead touches a new cache line
// per element. Each column's sum still adds its rows in order.
template <typename T>
void normalized_wt_times(const T* w, const T* a, T* out, const SpectralShape& s, double eps) {
  std::vector<double> acc(static_cast<size_t>(s.cols), 0.0);
  for (int64_t i = 0; i < s.rows; ++i) {
    const T* row = w + i * s.cols;
    const double ai = a[i];
    for (int64_t j = 0; j < s.cols; ++j) acc[static_cast<size_t>(j)] += static_cast<double>(row[j]) * ai;
  }
  double norm_sq = 0;
  for (const double v : acc) norm_sq += v * v;
  const double scale = 1.0 / std::max(std::sqrt(norm_sq), eps);
  for (int64_t j = 0; j < s.cols; ++j) out[j] = static_cast<T>(static_cast<T>(acc[static_cast<size_t>(j)]) * scale);
}

// Row i of W times b (b [cols]).
template <typename T>
double row_dot(const T* w, const T* b, int64_t i, const SpectralShape& s) {
  double acc = 0;
  for (int64_t j = 0; j < s.cols; ++j) acc += static_cast<double>(w[i * s.cols + j]) * b[j];
  return acc;
}

// out = normalize(W b)  (b [cols], out [rows]).
template <typename T>
void normalized_w_times(const T* w, const T* b, T* out, const SpectralShape& s, double eps) {
  double norm_sq = 0;
  for (int64_t i = 0; i < s.rows; ++i) {
    const double acc = row_dot(w, b, i, s);
    out[i] = static_cast<T>(acc);
    norm_sq += acc * acc;
  }
  const double scale = 1.0 / std::max(std::sqrt(norm_sq), eps);
  for (int64_t i = 0; i < s.rows; ++i) out[i] = static_cast<T>(out[i] * scale);
}

}  // namespace

template <typename T>
void spectral_normalize_forward_ref(const T* w, T* u, T* v, T* sigma, T* y, const SpectralShape& shape,
                                    const SpectralConfig& config) {
  const int iterations = config.training ? config.power_iterations : 0;
  for (int it = 0; it < iterations; ++it) {
    normalized_wt_times(w, u, v, shape, config.eps);
    normalized_w_times(w, v, u, shape, config.eps);
  }
  if (iterations == 0) normalized_wt_times(w, u, v, shape, config.eps);
  double s = 0;
  for (int64_t i = 0; i < shape.rows; ++i) s += u[i] * row_dot(w, v, i, shape);
  *sigma = static_cast<T>(s);
  const int64_t n = shape.rows * shape.cols;
  for (int64_t k = 0; k < n; ++k) y[k] = static_cast<T>(w[k] / s);
}

namespace {

// a /= max(||a||, eps), the norm summed in double.
void normalize_in_place(float* a, int64_t n, double eps) {
  double norm_sq = 0;
  for (int64_t i = 0; i < n; ++i) norm_sq += static_cast<double>(a[i]) * a[i];
  const float scale = static_cast<float>(1.0 / std::max(std::sqrt(norm_sq), eps));
  for (int64_t i = 0; i < n; ++i) a[i] *= scale;
}

}  // namespace

void spectral_normalize_forward_cpu(const float* w, float* u, float* v, float* sigma, float* y,
                                    const SpectralShape& shape, const SpectralConfig& config) {
  const int64_t rows = shape.rows, cols = shape.cols;
  std::vector<float> wv(static_cast<size_t>(rows));  // W v
  const auto normalized_wt_times_u = [&] {
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, w,
                static_cast<int>(cols), u, 1, 0.0f, v, 1);
    normalize_in_place(v, cols, config.eps);
  };
  const auto w_times_v = [&] {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, w,
                static_cast<int>(cols), v, 1, 0.0f, wv.data(), 1);
  };
  const int iterations = config.training ? config.power_iterations : 0;
  for (int it = 0; it < iterations; ++it) {
    normalized_wt_times_u();
    w_times_v();
    std::copy(wv.begin(), wv.end(), u);
    normalize_in_place(u, rows, config.eps);
  }
  if (iterations == 0) {
    normalized_wt_times_u();
    w_times_v();
  }
  double s = 0;  // u^T W v
  for (int64_t i = 0; i < rows; ++i) s += static_cast<double>(u[i]) * wv[static_cast<size_t>(i)];
  const float divisor = *sigma = static_cast<float>(s);
  parallel_ranges(rows * cols, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) y[k] = w[k] / divisor;
  });
}

template <typename T>
void spectral_normalize_backward_ref(const T* w, const T* u, const T* v, const T* sigma, const T* dy, T* dw,
                                     const SpectralShape& shape) {
  const int64_t n = shape.rows * shape.cols;
  double g_dot_w = 0;
  for (int64_t k = 0; k < n; ++k) g_dot_w += static_cast<double>(dy[k]) * w[k];
  const double s = *sigma;
  const double rank_one_scale = g_dot_w / (s * s);
  for (int64_t i = 0; i < shape.rows; ++i)
    for (int64_t j = 0; j < shape.cols; ++j) {
      const int64_t k = i * shape.cols + j;
      dw[k] = static_cast<T>(dy[k] / s - rank_one_scale * u[i] * v[j]);
    }
}

void spectral_normalize_backward_cpu(const float* w, const float* u, const float* v, const float* sigma,
                                     const float* dy, float* dw, const SpectralShape& shape) {
  const int64_t n = shape.rows * shape.cols;
  double g_dot_w = 0;
#pragma omp simd reduction(+ : g_dot_w)
  for (int64_t k = 0; k < n; ++k) g_dot_w += static_cast<double>(dy[k]) * w[k];
  const double s = *sigma;
  const float inverse_sigma = static_cast<float>(1.0 / s), rank_one_scale = static_cast<float>(g_dot_w / (s * s));
  parallel_ranges(shape.rows, std::max<int64_t>(1, kElementwiseGrain / shape.cols), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float scaled_u = rank_one_scale * u[i];
      const float* g = dy + i * shape.cols;
      float* out = dw + i * shape.cols;
      for (int64_t j = 0; j < shape.cols; ++j) out[j] = g[j] * inverse_sigma - scaled_u * v[j];
    }
  });
}

template void spectral_normalize_forward_ref<float>(const float*, float*, float*, float*, float*,
                                                    const SpectralShape&, const SpectralConfig&);
template void spectral_normalize_forward_ref<double>(const double*, double*, double*, double*, double*,
                                                     const SpectralShape&, const SpectralConfig&);
template void spectral_normalize_backward_ref<float>(const float*, const float*, const float*, const float*,
                                                     const float*, float*, const SpectralShape&);
template void spectral_normalize_backward_ref<double>(const double*, const double*, const double*,
                                                      const double*, const double*, double*,
                                                      const SpectralShape&);

}  // namespace fer
