// The cuBLAS and cuDNN handles (nvcc build only; see vendor.h).
#ifndef FER_CUDA_SIM
#include "kernels/runtime/vendor.h"

#include "kernels/runtime/launch.h"

namespace fer::cuda {

// Function-local statics: created once, thread-safely, on first use; never destroyed, because
// at exit the CUDA driver may already be shutting down.
cublasHandle_t cublas_handle() {
  static const cublasHandle_t handle = [] {
    cublasHandle_t created = nullptr;
    FER_CUDA_CHECK(cublasCreate(&created));
    FER_CUDA_CHECK(cublasSetStream(created, current_stream()));
    FER_CUDA_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
    return created;
  }();
  return handle;
}

cudnnHandle_t cudnn_handle() {
  static const cudnnHandle_t handle = [] {
    cudnnHandle_t created = nullptr;
    FER_CUDA_CHECK(cudnnCreate(&created));
    FER_CUDA_CHECK(cudnnSetStream(created, current_stream()));
    return created;
  }();
  return handle;
}

}  // namespace fer::cuda
#endif
