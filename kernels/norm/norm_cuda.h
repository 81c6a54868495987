// The CUDA twins of the norm kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/norm/norm.h"

namespace fer::cuda {
#include "kernels/norm/norm_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/norm/norm_cuda.inc"
}
