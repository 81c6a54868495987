// The CUDA twins of the reduce kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/reduce/reduce.h"

#define FER_REDUCE_CUDA_KERNELS \
  void sum_forward_cuda(const StridedShape<1>& shape, double scale, const float* x, float* y); \
  void sum_backward_cuda(const StridedShape<1>& shape, double scale, const float* grad_y, float* grad_x); \
  /* Kernel variant (kernels/reduce/reduce.cu), per process, for tests and benchmarks: */ \
  /* 1 the naive port, 2 the tuned kernels (the default); anything else throws. */ \
  void set_reduce_variant(int variant); \
  int reduce_variant();

namespace fer::cuda {
FER_REDUCE_CUDA_KERNELS
}
namespace fer::cudasim {
FER_REDUCE_CUDA_KERNELS
}
#undef FER_REDUCE_CUDA_KERNELS
