// The backend's one stream, the device's multiprocessor count, launch errors, and synchronization
// (both builds).
#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {

cudaStream_t current_stream() {
  // A function-local static: created once, thread-safely, on the first call. Never destroyed,
  // because tensors freed during static destruction may still enqueue work on it.
  static const cudaStream_t stream = [] {
    cudaStream_t created = nullptr;
    FER_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return stream;
}

int multiprocessor_count() {
  static const int count = [] {
    int device = 0, value = 0;
    FER_CUDA_CHECK(cudaGetDevice(&device));
    FER_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device));
    return value;
  }();
  return count;
}

void throw_launch_error(cudaError_t status, const LaunchGrid& grid, dim3 block, size_t shared_bytes) {
  ::fer::detail::ErrorBuilder builder(grid.where.file_name(), static_cast<int>(grid.where.line()),
                                      nullptr);
  builder << "kernel launch failed (grid " << grid.blocks.x << "x" << grid.blocks.y << "x"
          << grid.blocks.z << ", block " << block.x << "x" << block.y << "x" << block.z << ", "
          << shared_bytes << " bytes of dynamic shared memory): " << cudaGetErrorName(status)
          << " (" << cudaGetErrorString(status) << ")";
#ifdef FER_CUDA_SIM
  // The simulator ran the kernel already: say what failed inside it.
  if (status == cudaErrorLaunchFailure) builder << ": " << ::fersim::last_launch_failure();
#endif
  throw builder.error();
}

void device_synchronize() { FER_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

}  // namespace fer::FER_CUDA_NS
