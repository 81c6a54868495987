// Host-side services of the CUDA backend for plain C++ callers (benchmarks, `fer info`, the data
// loader), declared for both builds: events on the backend's stream, a GpuTimer, and a summary of
// the device. The CUDA types stay inside the .cu files (kernels/runtime/runtime.cu).
#pragma once
#include <memory>
#include <string>

namespace fer::cuda {
#include "kernels/runtime/runtime.inc"
}
namespace fer::cudasim {
#include "kernels/runtime/runtime.inc"
}
