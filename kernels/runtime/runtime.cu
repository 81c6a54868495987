// Events and the device summary (both builds; see runtime.h).
#include <sstream>

#include "kernels/runtime/cuda_api.h"
#include "kernels/runtime/launch.h"
#include "kernels/runtime/runtime.h"

namespace fer::FER_CUDA_NS {

std::string device_summary() {
  int device = 0;
  FER_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp props{};
  FER_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  std::ostringstream out;
  out << props.name << ", compute capability " << props.major << "." << props.minor << ", "
      << props.multiProcessorCount << " SMs, "
      << static_cast<double>(props.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0) << " GiB, "
      << props.sharedMemPerBlockOptin / 1024 << " KiB shared memory per block (opt-in), L2 "
      << props.l2CacheSize / (1024 * 1024) << " MiB";
  return out.str();
}

struct DeviceEvent::Handle {
  cudaEvent_t event = nullptr;
};

DeviceEvent::DeviceEvent() : handle_(std::make_unique<Handle>()) {
  FER_CUDA_CHECK(cudaEventCreate(&handle_->event));
}

// No throwing from a destructor: a failure here can only be reported by a later checked call.
DeviceEvent::~DeviceEvent() { (void)cudaEventDestroy(handle_->event); }

void DeviceEvent::record() { FER_CUDA_CHECK(cudaEventRecord(handle_->event, current_stream())); }

void DeviceEvent::synchronize() const { FER_CUDA_CHECK(cudaEventSynchronize(handle_->event)); }

double DeviceEvent::elapsed_ms_since(const DeviceEvent& earlier) const {
  float ms = 0;
  FER_CUDA_CHECK(cudaEventElapsedTime(&ms, earlier.handle_->event, handle_->event));
  return ms;
}

}  // namespace fer::FER_CUDA_NS
