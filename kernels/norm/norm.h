// Normalization kernels: batch norm, instance norm (norm.cpp) and spectral normalization
// (spectral_norm.cpp). The engine ops are in engine/ops/norm.cpp.
//
// Layout: x is contiguous [batch, channels, spatial] (NCHW with spatial = H*W, or [N, C] with
// spatial = 1). weight, bias, running and saved statistics are [channels] for batch norm;
// instance norm saves its statistics per plane, [batch * channels], plane p = n * channels + c.
// Pointers for weight/bias (and their gradients) may be null: no affine transform.
//
// Statistics are two-pass (mean, then the sum of squared deviations) with double accumulators on
// every path: float sums over 32*64*64 elements would lose digits. The backward accumulates its
// two per-group sums (sum dy, sum dy * x_hat) in double as well.
//
// Threads: the _cpu versions run the same per-channel code as _ref<float>, with the channels
// split across OpenMP threads (every output element and every per-channel sum belongs to one
// channel, so no two threads write the same memory); they give bit-identical results.
//
// Backward writes: dx is overwritten; dweight and dbias are overwritten (not accumulated).
#pragma once
#include <cstdint>

namespace fer {

struct NormShape {
  int64_t batch;
  int64_t channels;
  int64_t spatial;  // H * W, or 1 for [N, C]
};

struct BatchNormConfig {
  bool training;    // batch statistics (true) or the running statistics (false)
  double momentum;  // running = (1 - momentum) * running + momentum * batch statistic
  double eps;
};

// Training: save_mean/save_invstd get the batch mean and 1/sqrt(biased var + eps); running_mean
// and running_var (nullable) are updated in place with the unbiased variance.
// Eval: save_mean/save_invstd get running_mean and 1/sqrt(running_var + eps).
template <typename T>
void batch_norm_forward_ref(const T* x, const T* weight, const T* bias, T* running_mean, T* running_var,
                            T* y, T* save_mean, T* save_invstd, const NormShape& shape,
                            const BatchNormConfig& config);
void batch_norm_forward_cpu(const float* x, const float* weight, const float* bias, float* running_mean,
                            float* running_var, float* y, float* save_mean, float* save_invstd,
                            const NormShape& shape, const BatchNormConfig& config);

// Training: the closed form through the batch statistics,
//   dx = gamma * invstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)),
// eval: the statistics are constants, dx = gamma * invstd * dy.
// dweight = sum(dy * x_hat), dbias = sum(dy) over batch and spatial.
template <typename T>
void batch_norm_backward_ref(const T* x, const T* dy, const T* weight, const T* save_mean,
                             const T* save_invstd, T* dx, T* dweight, T* dbias, const NormShape& shape,
                             bool training);
void batch_norm_backward_cpu(const float* x, const float* dy, const float* weight, const float* save_mean,
                             const float* save_invstd, float* dx, float* dweight, float* dbias,
                             const NormShape& shape, bool training);

// Statistics per (n, c) plane over spatial (biased variance); affine per channel.
template <typename T>
void instance_norm_forward_ref(const T* x, const T* weight, const T* bias, T* y, T* save_mean,
                               T* save_invstd, const NormShape& shape, double eps);
void instance_norm_forward_cpu(const float* x, const float* weight, const float* bias, float* y,
                               float* save_mean, float* save_invstd, const NormShape& shape, double eps);

// The batch-norm training closed form per plane; dweight/dbias sum over batch and spatial.
template <typename T>
void instance_norm_backward_ref(const T* x, const T* dy, const T* weight, const T* save_mean,
                                const T* save_invstd, T* dx, T* dweight, T* dbias, const NormShape& shape);
void instance_norm_backward_cpu(const float* x, const float* dy, const float* weight, const float* save_mean,
                                const float* save_invstd, float* dx, float* dweight, float* dbias,
                                const NormShape& shape);

// ---- spectral normalization (spectral_norm.cpp) -------------------------------------------

struct SpectralShape {
  int64_t rows;  // weight.shape[0]
  int64_t cols;  // the product of the other axes
};

struct SpectralConfig {
  int power_iterations;  // applied only when training
  bool training;
  double eps;  // normalize(a) = a / max(||a||, eps), as PyTorch
};

// W [rows, cols] row-major, u [rows] (in/out), v [cols] (out), sigma [1] (out), y [rows, cols].
// Training: `power_iterations` times v = normalize(W^T u), u = normalize(W v), u updated in place.
// Eval (or 0 iterations): v = normalize(W^T u) from the given u, u unchanged.
// Then sigma = u^T W v and y = W / sigma.
template <typename T>
void spectral_normalize_forward_ref(const T* w, T* u, T* v, T* sigma, T* y, const SpectralShape& shape,
                                    const SpectralConfig& config);
void spectral_normalize_forward_cpu(const float* w, float* u, float* v, float* sigma, float* y,
                                    const SpectralShape& shape, const SpectralConfig& config);

// With u and v the forward's vectors, held constant (PyTorch's convention):
//   dW = G / sigma - (sum(G * W) / sigma^2) u v^T   (overwrites dw).
template <typename T>
void spectral_normalize_backward_ref(const T* w, const T* u, const T* v, const T* sigma, const T* dy, T* dw,
                                     const SpectralShape& shape);
void spectral_normalize_backward_cpu(const float* w, const float* u, const float* v, const float* sigma,
                                     const float* dy, float* dw, const SpectralShape& shape);

}  // namespace fer
