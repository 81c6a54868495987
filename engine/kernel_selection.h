// Which implementation of the op families with a vendor version runs (`--kernels native|vendor`,
// kernels/runtime/kernel_choice.h): on cuda the hand-written kernels ("native", the default) or
// the vendor libraries ("vendor": cuDNN for conv and norm, cuBLAS for gemm) as a comparison and a
// second opinion. The cpu and cuda-sim have native kernels only; asking them for vendor ones is an
// error, as is either choice on a build without that device.
#pragma once
#include "engine/tensor.h"
#include "kernels/runtime/kernel_choice.h"

namespace fer {

// Process-wide: set once at startup, before any op runs.
void select_kernels(Device device, KernelChoice choice);

}  // namespace fer
