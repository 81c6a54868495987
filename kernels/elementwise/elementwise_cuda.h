// The CUDA twins of the elementwise kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/elementwise/elementwise.h"

namespace fer::cuda {
#include "kernels/elementwise/elementwise_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/elementwise/elementwise_cuda.inc"
}
