// The CUDA API for the .cu sources: the one header every .cu includes first.
//
//   nvcc build (namespace fer::cuda):      the real CUDA runtime, <cuda_runtime.h>.
//   simulator build (fer::cudasim, FER_CUDA_SIM): kernels/sim/sim.h, whose ::fersim namespace has
//     CUDA's names and signatures; `using namespace ::fersim` inside fer::cudasim makes the same
//     unqualified calls (cudaMalloc, threadIdx, __syncthreads, ...) resolve to the simulator.
//
// It also defines
//   FER_STATIC_SHARED(T, name)   a static shared variable, `__shared__ T name;` (T may be an array
//                                type: FER_STATIC_SHARED(double[33], scratch)); on the simulator
//                                the block's copy, sized against the block's limit and poisoned;
//   FER_DYNAMIC_SHARED(T, name)  the block's dynamic shared memory as `T* name` / `T name[]`;
//   FER_CUDA_CHECK(expr)         for every CUDA (and, through kernels/runtime/vendor.h, cuBLAS and
//                                cuDNN) call: a failing status throws fer::Error naming the
//                                expression, the error's name and text, file and line.
#pragma once
#include "kernels/common/cuda_ns.h"
#include "kernels/common/error.h"

#ifdef FER_CUDA_SIM
#include "kernels/sim/sim.h"
namespace fer::cudasim {
using namespace ::fersim;
}
// The simulator hands each block its shared memory through functions.
#define FER_STATIC_SHARED(T, name) FERSIM_SHARED(T, name)
#define FER_DYNAMIC_SHARED(T, name) T* name = ::fersim::dynamic_shared<T>()
#else
#include <cuda_runtime.h>

#include <type_traits>
#define FER_STATIC_SHARED(T, name) __shared__ std::type_identity_t<T> name
// `extern __shared__ T name[]` with different T in two kernels of one file is an error (one
// symbol, two types), so the buffer is declared as bytes, aligned for any element type, and cast.
#define FER_DYNAMIC_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char fer_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(fer_dynamic_shared_)
#endif

namespace fer::FER_CUDA_NS {

// Throws the error of a failed CUDA, cuBLAS or cuDNN call.
[[noreturn]] inline void throw_status_error(const char* library, const char* expression,
                                            const char* error_name, const char* error_text,
                                            const char* file, int line) {
  ::fer::detail::ErrorBuilder builder(file, line, nullptr);
  builder << library << " call failed: " << expression << ": " << error_name << " (" << error_text
          << ")";
  throw builder.error();
}

// One overload per status type; vendor.h adds cublasStatus_t and cudnnStatus_t (nvcc only).
inline void check_status(cudaError_t status, const char* expression, const char* file, int line) {
  if (status != cudaSuccess) {
    // A failing call also sets the thread's last error; it is reported now, so clear it, or the
    // next launch check would report it again as its own.
    (void)cudaGetLastError();
    throw_status_error("CUDA", expression, cudaGetErrorName(status), cudaGetErrorString(status),
                       file, line);
  }
}

}  // namespace fer::FER_CUDA_NS

#define FER_CUDA_CHECK(expr) ::fer::FER_CUDA_NS::check_status((expr), #expr, __FILE__, __LINE__)
