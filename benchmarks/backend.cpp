// The CPU backend of the benchmarks and the choice of backend by name (backend.h).
// On the CPU a run is timed with the steady clock; caches are not flushed, since every CPU
// kernel here touches more data than the last-level cache or is meant to be measured warm.
#include "benchmarks/backend.h"

#include <chrono>
#include <cstring>

#include "kernels/common/error.h"
#include "kernels/conv/conv.h"

namespace fer::bench {
namespace {

Backend make_cpu_backend() {
  Backend b;
  b.name = "cpu";
  b.alloc = [](size_t count) { return new float[count](); };
  b.free = [](float* p) { delete[] p; };
  b.upload = [](float* dst, const float* host, size_t count) { std::memcpy(dst, host, count * sizeof(float)); };
  b.download = [](float* host, const float* src, size_t count) { std::memcpy(host, src, count * sizeof(float)); };
  b.synchronize = [] {};
  b.time_ms = [](const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  b.flush_caches = [] {};
  // conv's cpu version is timed twice: with its default algorithm choice (Winograd, phase planes
  // or im2col by shape) and with im2col + SGEMM everywhere.
  b.variants = [](const std::string& family, const std::string&) {
    std::vector<Variant> v{{"ref", &Impls::ref, [] {}},
                           {"cpu", &Impls::cpu, [] { set_conv_cpu_algorithm(ConvCpuAlgorithm::Auto); }}};
    if (family == "conv")
      v.push_back({"cpu-im2col", &Impls::cpu, [] { set_conv_cpu_algorithm(ConvCpuAlgorithm::Im2col); }});
    return v;
  };
  b.restore_defaults = [] { set_conv_cpu_algorithm(ConvCpuAlgorithm::Auto); };
  b.copy_bandwidth_gbs = [] { return 0.0; };
  b.memory_stats = [] { return DeviceMemoryStats{}; };
  b.reset_peak_memory = [] {};
  return b;
}

}  // namespace

Backend make_backend(const std::string& name) {
  if (name == "cpu") return make_cpu_backend();
#ifdef FER_WITH_CUDA
  if (name == "cuda") return make_cuda_backend();
#endif
#ifdef FER_WITH_CUDA_SIM
  if (name == "cuda-sim") return make_cudasim_backend();
#endif
  FER_THROW() << "bench: device '" << name << "' is not in this build (cpu"
#ifdef FER_WITH_CUDA
              << ", cuda"
#endif
#ifdef FER_WITH_CUDA_SIM
              << ", cuda-sim"
#endif
              << ")";
}

}  // namespace fer::bench
