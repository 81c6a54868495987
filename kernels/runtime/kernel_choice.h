// The per-family kernel choice of the CUDA backend (`--kernels native|vendor`): the hand-written
// kernels, or the vendor libraries (cuDNN for conv and norm, cuBLAS for gemm) as a comparison and
// second opinion. Declared for both builds; the simulator refuses the vendor choice, since vendor
// libraries are not simulated. Families without a vendor version are always native.
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace fer {

enum class KernelChoice { Native, Vendor };

KernelChoice parse_kernel_choice(const std::string& name);  // "native" | "vendor"
const char* kernel_choice_name(KernelChoice choice);
// The families that have a vendor version.
inline constexpr std::array<std::string_view, 3> kVendorKernelFamilies = {"conv", "gemm", "norm"};

}  // namespace fer

namespace fer::cuda {
#include "kernels/runtime/kernel_choice.inc"
}
namespace fer::cudasim {
#include "kernels/runtime/kernel_choice.inc"
}
