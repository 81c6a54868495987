// FER_CUDA_TEST_CASE(name, tags): one test body registered for the CUDA simulator and, in builds
// with nvcc, for a real GPU:
//   "<name> (cuda-sim)" tagged [cuda-sim]   runs everywhere (CI)
//   "<name> (cuda)"     tagged [cuda]       needs a GPU; scripts/test.sh excludes it, and
//                                           benchmarks/gpu_check.sh runs it on the device.
// The body receives `device`, the fer::Device to test against the cpu reference.
#pragma once
#include <catch2/catch.hpp>

#include "engine/tensor.h"

#define FER_CAT2_(a, b) a##b
#define FER_CAT_(a, b) FER_CAT2_(a, b)

#ifdef FER_WITH_CUDA
#define FER_CUDA_TEST_CASE_GPU_(fn, name, tags) \
  TEST_CASE(name " (cuda)", tags "[cuda]") { fn(::fer::Device::CUDA); }
#else
#define FER_CUDA_TEST_CASE_GPU_(fn, name, tags)
#endif

#ifdef FER_WITH_CUDA_SIM
#define FER_CUDA_TEST_CASE_SIM_(fn, name, tags) \
  TEST_CASE(name " (cuda-sim)", tags "[cuda-sim]") { fn(::fer::Device::CUDASim); }
#else
#define FER_CUDA_TEST_CASE_SIM_(fn, name, tags)
#endif

// A build without either backend registers nothing; the body still compiles.
#define FER_CUDA_TEST_CASE_IMPL_(fn, name, tags)          \
  [[maybe_unused]] static void fn(::fer::Device device);  \
  FER_CUDA_TEST_CASE_SIM_(fn, name, tags)                 \
  FER_CUDA_TEST_CASE_GPU_(fn, name, tags)                 \
  static void fn([[maybe_unused]] ::fer::Device device)

#define FER_CUDA_TEST_CASE(name, tags) FER_CUDA_TEST_CASE_IMPL_(FER_CAT_(fer_cuda_test_, __LINE__), name, tags)

// FER_CALL_ON(device, fn, args...): calls fer::cuda::fn on device cuda, fer::cudasim::fn on
// cuda-sim; for backend functions that are not ops (variant selection and the like).
#ifdef FER_WITH_CUDA
#define FER_CALL_ON_GPU_(device, fn, ...)      \
  if ((device) == ::fer::Device::CUDA) {       \
    ::fer::cuda::fn(__VA_ARGS__);              \
  } else
#else
#define FER_CALL_ON_GPU_(device, fn, ...)
#endif
#ifdef FER_WITH_CUDA_SIM
#define FER_CALL_ON_SIM_(device, fn, ...)          \
  REQUIRE((device) == ::fer::Device::CUDASim);     \
  ::fer::cudasim::fn(__VA_ARGS__);
#else
#define FER_CALL_ON_SIM_(device, fn, ...)       \
  static_cast<void>(device);                    \
  [](const auto&...) {}(__VA_ARGS__);           \
  FAIL("built without the CUDA simulator");
#endif
#define FER_CALL_ON(device, fn, ...)                    \
  do {                                                  \
    FER_CALL_ON_GPU_(device, fn, __VA_ARGS__) {         \
      FER_CALL_ON_SIM_(device, fn, __VA_ARGS__)         \
    }                                                   \
  } while (0)
