// The CUDA twins of the rdbp kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/rdbp/rdbp.h"

#define FER_RDBP_CUDA_KERNELS \
  void rdbp_forward_cuda(const RdbpShape& shape, const float* real, const float* real_labels, const float* synth, const float* synth_labels, float* running_centers, float* seen, float* centers, float* has_center, float* loss, float* term_count); \
  void rdbp_backward_cuda(const RdbpShape& shape, const float* real, const float* real_labels, const float* synth, const float* synth_labels, const float* centers, const float* has_center, const float* term_count, const float* grad_loss, float* grad_real, float* grad_synth);

namespace fer::cuda {
FER_RDBP_CUDA_KERNELS
}
namespace fer::cudasim {
FER_RDBP_CUDA_KERNELS
}
#undef FER_RDBP_CUDA_KERNELS
