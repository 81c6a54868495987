// FER_DISPATCH(device, dtype, op, args...): calls the version of kernel `op` for the device.
//
//   cpu, float64 -> op##_ref<double>(args)      plain-loop reference (used by gradient checks)
//   cpu, float32 -> op##_cpu(args)              optimized CPU path
//   cuda         -> fer::cuda::op##_cuda(args)  hand-written kernels / cuDNN / cuBLAS (nvcc build)
//   cuda-sim     -> fer::cudasim::op##_cuda(args) the same .cu sources on the CUDA simulator
//
// Inside args, `T` names the element type of the selected branch, so tensors are passed as
// x.data<T>(). A device the build lacks throws; nothing silently falls back to the CPU.
// Every dispatch is timed by the kernel profiler while it is on (engine/profiler.h).
#pragma once
#include "engine/profiler.h"
#include "engine/tensor.h"

#ifdef FER_WITH_CUDA
#define FER_DISPATCH_CUDA_(op, ...) ::fer::cuda::op##_cuda(__VA_ARGS__)
#else
#define FER_DISPATCH_CUDA_(op, ...) \
  FER_THROW() << #op << ": this build of fer has no CUDA backend (configure with a CUDA toolkit)"
#endif
#ifdef FER_WITH_CUDA_SIM
#define FER_DISPATCH_SIM_(op, ...) ::fer::cudasim::op##_cuda(__VA_ARGS__)
#else
#define FER_DISPATCH_SIM_(op, ...) \
  FER_THROW() << #op << ": this build of fer has no cuda-sim backend (FER_WITH_CUDA_SIM=OFF)"
#endif

#define FER_DISPATCH(device, dtype, op, ...)                                             \
  do {                                                                                   \
    const ::fer::Device fer_device_ = (device);                                          \
    const ::fer::DType fer_dtype_ = (dtype);                                             \
    const ::fer::profiler::Scope fer_profile_(#op);                                      \
    if (fer_device_ == ::fer::Device::CPU) {                                             \
      if (fer_dtype_ == ::fer::DType::F64) {                                             \
        using T [[maybe_unused]] = double;                                                             \
        op##_ref<T>(__VA_ARGS__);                                                        \
      } else {                                                                           \
        using T [[maybe_unused]] = float;                                                            \
        op##_cpu(__VA_ARGS__);                                                           \
      }                                                                                  \
    } else {                                                                             \
      FER_CHECK(fer_dtype_ == ::fer::DType::F32)                                         \
          << #op << ": float64 tensors exist on the cpu only, got one on "               \
          << ::fer::device_name(fer_device_);                                            \
      using T [[maybe_unused]] = float;                                                              \
      if (fer_device_ == ::fer::Device::CUDA) {                                          \
        FER_DISPATCH_CUDA_(op, __VA_ARGS__);                                             \
      } else {                                                                           \
        FER_DISPATCH_SIM_(op, __VA_ARGS__);                                              \
      }                                                                                  \
    }                                                                                    \
  } while (0)
