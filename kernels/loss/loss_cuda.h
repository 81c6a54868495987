// The CUDA twins of the loss kernels: the same arguments as the _cpu versions (device pointers),
// declared for both builds of the .cu sources (fer::cuda on a GPU, fer::cudasim on the simulator).
#pragma once

#include "kernels/loss/loss.h"

namespace fer::cuda {
#include "kernels/loss/loss_cuda.inc"
}
namespace fer::cudasim {
#include "kernels/loss/loss_cuda.inc"
}
