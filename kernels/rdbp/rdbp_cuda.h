// The CUDA twins of the rdbp kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/rdbp/rdbp.h"

namespace fer::cuda {
#include "kernels/rdbp/rdbp_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/rdbp/rdbp_cuda.inc"
}
