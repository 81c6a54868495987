// The CUDA twins of the pool kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/pool/pool.h"

namespace fer::cuda {
#include "kernels/pool/pool_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/pool/pool_cuda.inc"
}
