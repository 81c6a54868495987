// The CUDA twins of the loss kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/loss/loss.h"

#define FER_LOSS_CUDA_KERNELS \
  void cross_entropy_forward_cuda(const float* logits, const float* labels, float* loss, const ClassLossShape& shape); \
  void cross_entropy_backward_cuda(const float* logits, const float* labels, const float* dloss, float* dlogits, const ClassLossShape& shape); \
  void bce_with_logits_forward_cuda(const float* logits, const float* targets, float* loss, int64_t count); \
  void bce_with_logits_backward_cuda(const float* logits, const float* targets, const float* dloss, float* dlogits, float* dtargets, int64_t count); \
  void l1_loss_forward_cuda(const float* a, const float* b, float* loss, int64_t count); \
  void l1_loss_backward_cuda(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count); \
  void mse_loss_forward_cuda(const float* a, const float* b, float* loss, int64_t count); \
  void mse_loss_backward_cuda(const float* a, const float* b, const float* dloss, float* da, float* db, int64_t count);

namespace fer::cuda {
FER_LOSS_CUDA_KERNELS
}
namespace fer::cudasim {
FER_LOSS_CUDA_KERNELS
}
#undef FER_LOSS_CUDA_KERNELS
