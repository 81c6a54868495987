// The CUDA twins of the conv kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator),
// plus the variant choice and the cuDNN entry points (kernels/conv/conv.cu, conv_vendor.cu).
//
// Variant choice, for tests and benchmarks (per process; default 2):
//   1  the naive port: one thread per output element, direct loops;
//   2  implicit GEMM: shared-memory tiles, register blocking, phases for strided backward-data,
//      split-K over the batch for the filter gradient.
// The cuDNN version is chosen with kernel_choice("conv") == vendor instead (nvcc build only); it
// takes precedence over the variant. Transposed convolution runs on whichever is selected.
#pragma once

#include "kernels/conv/conv.h"

namespace fer::cuda {
#include "kernels/conv/conv_cuda.inc"
// cuDNN convolution (conv_vendor.cu, nvcc build only), without bias (conv.cu adds it and sums
// dbias with its own kernels, for every variant): the contracts of conv.h, outputs overwritten.
void conv2d_forward_vendor(const ConvShape& s, const float* x, const float* weight, float* y);
void conv2d_backward_data_vendor(const ConvShape& s, const float* dy, const float* weight, float* dx);
void conv2d_backward_filter_vendor(const ConvShape& s, const float* x, const float* dy, float* dweight);
}  // namespace fer::cuda
namespace fer::cudasim {
#include "kernels/conv/conv_cuda.inc"
}
