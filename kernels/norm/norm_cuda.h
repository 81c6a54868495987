// The CUDA twins of the norm kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/norm/norm.h"

#define FER_NORM_CUDA_KERNELS \
  void batch_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* running_mean, float* running_var, float* y, float* save_mean, float* save_invstd, const NormShape& shape, const BatchNormConfig& config); \
  void batch_norm_backward_cuda(const float* x, const float* dy, const float* weight, const float* save_mean, const float* save_invstd, float* dx, float* dweight, float* dbias, const NormShape& shape, bool training); \
  void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* save_mean, float* save_invstd, const NormShape& shape, double eps); \
  void instance_norm_backward_cuda(const float* x, const float* dy, const float* weight, const float* save_mean, const float* save_invstd, float* dx, float* dweight, float* dbias, const NormShape& shape); \
  void spectral_normalize_forward_cuda(const float* w, float* u, float* v, float* sigma, float* y, const SpectralShape& shape, const SpectralConfig& config); \
  void spectral_normalize_backward_cuda(const float* w, const float* u, const float* v, const float* sigma, const float* dy, float* dw, const SpectralShape& shape);

namespace fer::cuda {
FER_NORM_CUDA_KERNELS
}
namespace fer::cudasim {
FER_NORM_CUDA_KERNELS
}
#undef FER_NORM_CUDA_KERNELS
