// The per-build kernel choice (both builds; see kernel_choice.h). Set at startup from the command
// line and read by each op call, possibly from several threads: hence atomics.
#include <atomic>
#include <sstream>

#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/kernel_choice.h"

namespace fer::FER_CUDA_NS {
namespace {

std::atomic<KernelChoice> choices[kVendorKernelFamilies.size()];  // zero-initialized: Native

size_t family_index(const std::string& family) {
  for (size_t i = 0; i < kVendorKernelFamilies.size(); ++i) {
    if (kVendorKernelFamilies[i] == family) return i;
  }
  std::ostringstream known;
  for (const auto name : kVendorKernelFamilies) known << name << ", ";
  FER_THROW() << "unknown kernel family '" << family << "' (known: " << known.str() << "all)";
}

}  // namespace

void set_kernel_choice(const std::string& family, KernelChoice choice) {
#ifdef FER_CUDA_SIM
  FER_CHECK(choice == KernelChoice::Native)
      << "--kernels vendor for family '" << family
      << "' on cuda-sim: vendor libraries (cuDNN/cuBLAS) are not simulated";
#endif
  if (family == "all") {
    for (auto& slot : choices) slot.store(choice);
  } else {
    choices[family_index(family)].store(choice);
  }
}

KernelChoice kernel_choice(const std::string& family) { return choices[family_index(family)].load(); }

}  // namespace fer::FER_CUDA_NS
