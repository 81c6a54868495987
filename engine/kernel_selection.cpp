#include "engine/kernel_selection.h"

#include "kernels/common/error.h"

namespace fer {

void select_kernels(Device device, KernelChoice choice) {
  switch (device) {
    case Device::CPU:
      FER_CHECK(choice == KernelChoice::Native) << "--kernels vendor needs --device cuda: the cpu has native kernels only";
      return;
    case Device::CUDA:
#ifdef FER_WITH_CUDA
      cuda::set_kernel_choice("all", choice);
      return;
#else
      FER_THROW() << "--device cuda: this build has no CUDA backend (configured with FER_WITH_CUDA=OFF, as the"
                   " demo's build-demo/ is, or without a CUDA toolkit; scripts/build.sh builds it into build/)";
#endif
    case Device::CUDASim:
#ifdef FER_WITH_CUDA_SIM
      cudasim::set_kernel_choice("all", choice);  // refuses vendor: cuDNN and cuBLAS are not simulated
      return;
#else
      FER_THROW() << "--device cuda-sim: this build has no CUDA simulator (configured with FER_WITH_CUDA_SIM=OFF,"
                   " as the demo's build-demo/ is; scripts/build.sh builds it into build/)";
#endif
  }
}

}  // namespace fer
