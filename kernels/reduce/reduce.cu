// Placeholder until the reduce CUDA kernels land: every entry point throws, so a reduce op on
// cuda or cuda-sim fails with a clear error instead of falling back to the CPU.
#include "kernels/runtime/cuda_api.h"
#include "kernels/reduce/reduce_cuda.h"

namespace fer::FER_CUDA_NS {

void sum_forward_cuda(const StridedShape<1>&, double, const float*, float*) {
  FER_THROW() << "sum_forward: no CUDA kernel yet";
}

void sum_backward_cuda(const StridedShape<1>&, double, const float*, float*) {
  FER_THROW() << "sum_backward: no CUDA kernel yet";
}

}  // namespace fer::FER_CUDA_NS
