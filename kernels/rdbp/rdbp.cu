// Placeholder until the rdbp CUDA kernels land: every entry point throws, so a rdbp op on
// cuda or cuda-sim fails with a clear error instead of falling back to the CPU.
#include "kernels/runtime/cuda_api.h"
#include "kernels/rdbp/rdbp_cuda.h"

namespace fer::FER_CUDA_NS {

void rdbp_forward_cuda(const RdbpShape&, const float*, const float*, const float*, const float*, float*, float*, float*, float*, float*, float*) {
  FER_THROW() << "rdbp_forward: no CUDA kernel yet";
}

void rdbp_backward_cuda(const RdbpShape&, const float*, const float*, const float*, const float*, const float*, const float*, const float*, const float*, float*, float*) {
  FER_THROW() << "rdbp_backward: no CUDA kernel yet";
}

}  // namespace fer::FER_CUDA_NS
