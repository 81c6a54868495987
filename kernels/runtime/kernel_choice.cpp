// The build-independent half of kernel_choice.h (the per-build state is in kernel_choice.cu).
#include "kernels/runtime/kernel_choice.h"

#include "kernels/common/error.h"

namespace fer {

KernelChoice parse_kernel_choice(const std::string& name) {
  if (name == "native") return KernelChoice::Native;
  if (name == "vendor") return KernelChoice::Vendor;
  FER_THROW() << "unknown kernel choice '" << name << "' (known: native, vendor)";
}

const char* kernel_choice_name(KernelChoice choice) {
  return choice == KernelChoice::Vendor ? "vendor" : "native";
}

}  // namespace fer
