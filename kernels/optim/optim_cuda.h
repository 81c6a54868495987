// The CUDA twins of the optim kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/optim/optim.h"

namespace fer::cuda {
#include "kernels/optim/optim_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/optim/optim_cuda.inc"
}
