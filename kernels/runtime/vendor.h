// cuBLAS and cuDNN for the vendor versions of the kernel families (`--kernels vendor`), nvcc build
// only: the simulator does not simulate them, so a .cu includes this under #ifndef FER_CUDA_SIM.
//
// Both handles are created on first use and bound to the backend's one stream. FP32 is FP32: the
// cuBLAS handle uses CUBLAS_DEFAULT_MATH (no TF32 tensor cores), and every cuDNN convolution
// descriptor must get use_fp32_math(desc), so that vendor results compare with our FP32 kernels
// and with PyTorch run with TF32 disabled.
// FER_CUDA_CHECK accepts cublasStatus_t and cudnnStatus_t through the overloads below.
#pragma once
#ifdef FER_CUDA_SIM
#error "kernels/runtime/vendor.h: vendor libraries (cuDNN/cuBLAS) are not simulated; guard with #ifndef FER_CUDA_SIM"
#endif
#include <cublas_v2.h>
#include <cudnn.h>

#include "kernels/runtime/cuda_api.h"

namespace fer::cuda {

inline void check_status(cublasStatus_t status, const char* expression, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw_status_error("cuBLAS", expression, cublasGetStatusName(status),
                       cublasGetStatusString(status), file, line);
  }
}

inline void check_status(cudnnStatus_t status, const char* expression, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) {
    char detail[512] = "";
    cudnnGetLastErrorString(detail, sizeof(detail));  // cuDNN's explanation of the last failure
    throw_status_error("cuDNN", expression, cudnnGetErrorString(status), detail, file, line);
  }
}

cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

// Plain FP32 fused multiply-adds for a convolution: no TF32 tensor-core math.
inline void use_fp32_math(cudnnConvolutionDescriptor_t descriptor) {
  FER_CUDA_CHECK(cudnnSetConvolutionMathType(descriptor, CUDNN_FMA_MATH));
}

}  // namespace fer::cuda
