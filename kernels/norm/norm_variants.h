// The CUDA norm family beyond the _cuda entry points of norm_cuda.h (kernels/norm/norm.cu,
// norm_vendor.cu).
//
// Variant choice, for tests and benchmarks (per process; default 2):
//   1  the naive port: one thread per channel/plane computes the statistics and the gradient
//      sums, one thread per element normalizes and writes dx;
//   2  the tuned kernels: block reductions with warp shuffles, float4 loads and stores where a
//      plane's rows are 16-byte aligned (spatial % 4 == 0), enough blocks to fill the GPU.
// The cuDNN version of batch norm is chosen with kernel_choice("norm") == vendor instead (nvcc
// build only); instance norm and spectral normalization have no vendor version.
#pragma once
#include "kernels/norm/norm.h"

namespace fer::cuda {
#include "kernels/norm/norm_variants.inc"
// cuDNN batch norm (norm_vendor.cu, nvcc build only), the contracts of norm.h; the backward is
// the training one (cuDNN has no eval-mode backward: norm.cu runs its own kernels for that).
void batch_norm_forward_vendor(const float* x, const float* weight, const float* bias, float* running_mean,
                               float* running_var, float* y, float* save_mean, float* save_invstd,
                               const NormShape& shape, const BatchNormConfig& config);
void batch_norm_backward_vendor(const float* x, const float* dy, const float* weight, const float* save_mean,
                                const float* save_invstd, float* dx, float* dweight, float* dbias,
                                const NormShape& shape);
}  // namespace fer::cuda
namespace fer::cudasim {
#include "kernels/norm/norm_variants.inc"
}
