// The CUDA twins of the elementwise kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/elementwise/elementwise.h"

#define FER_ELEMENTWISE_CUDA_KERNELS \
  void unary_forward_cuda(UnaryOp op, UnaryParams p, int64_t n, const float* x, float* y); \
  void unary_backward_cuda(UnaryOp op, UnaryParams p, int64_t n, const float* x, const float* y, const float* grad_y, float* grad_x); \
  void binary_forward_cuda(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b, float* out); \
  void binary_backward_cuda(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b, const float* grad_out, float* grad_a_full, float* grad_b_full); \
  void dropout_forward_cuda(int64_t n, double p, uint64_t seed, uint64_t offset, const float* x, float* y); \
  void dropout_backward_cuda(int64_t n, double p, uint64_t seed, uint64_t offset, const float* grad_y, float* grad_x); \
  void slice_forward_cuda(const SliceShape& s, const float* x, float* y); \
  void slice_backward_cuda(const SliceShape& s, const float* grad_y, float* grad_x); \
  void index_select_forward_cuda(int64_t row_size, const int64_t* indices, int64_t count, const float* x, float* y); \
  void index_select_backward_cuda(int64_t row_size, const int64_t* indices, int64_t count, const float* grad_y, float* grad_x); \
  /* Kernel variant (kernels/elementwise/elementwise.cu), per process, for tests and benchmarks: */ \
  /* 1 the naive grid-stride port, 2 vectorized (the default); anything else throws. */ \
  void set_elementwise_variant(int variant); \
  int elementwise_variant();

namespace fer::cuda {
FER_ELEMENTWISE_CUDA_KERNELS
}
namespace fer::cudasim {
FER_ELEMENTWISE_CUDA_KERNELS
}
#undef FER_ELEMENTWISE_CUDA_KERNELS
