// The CUDA twins of the pool kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/pool/pool.h"

#define FER_POOL_CUDA_KERNELS \
  void max_pool2d_forward_cuda(const float* x, float* y, const PoolShape& shape); \
  void max_pool2d_backward_cuda(const float* x, const float* dy, float* dx, const PoolShape& shape); \
  void avg_pool2d_forward_cuda(const float* x, float* y, const PoolShape& shape); \
  void avg_pool2d_backward_cuda(const float* dy, float* dx, const PoolShape& shape); \
  void global_avg_pool_forward_cuda(const float* x, float* y, const GlobalPoolShape& shape); \
  void global_avg_pool_backward_cuda(const float* dy, float* dx, const GlobalPoolShape& shape);

namespace fer::cuda {
FER_POOL_CUDA_KERNELS
}
namespace fer::cudasim {
FER_POOL_CUDA_KERNELS
}
#undef FER_POOL_CUDA_KERNELS
