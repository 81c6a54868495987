// The CUDA twins of the reduce kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/reduce/reduce.h"

namespace fer::cuda {
#include "kernels/reduce/reduce_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/reduce/reduce_cuda.inc"
}
