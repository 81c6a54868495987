// The CUDA twins of the optim kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/optim/optim.h"

#define FER_OPTIM_CUDA_KERNELS \
  void sgd_update_cuda(const SgdSlice<float>* slices, int64_t count, const SgdHyper& h); \
  void adam_update_cuda(const AdamSlice<float>* slices, int64_t count, const AdamHyper& h);

namespace fer::cuda {
FER_OPTIM_CUDA_KERNELS
}
namespace fer::cudasim {
FER_OPTIM_CUDA_KERNELS
}
#undef FER_OPTIM_CUDA_KERNELS
