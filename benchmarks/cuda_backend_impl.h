// The CUDA backend of the benchmarks, written once and compiled per namespace by
// cuda_backend.cpp: FER_BENCH_NS is cuda (a GPU) or cudasim (the simulator), FER_BENCH_MAKE the
// name of the function it defines, FER_BENCH_DEVICE the device's name, FER_BENCH_VENDOR 1 where
// the vendor libraries exist (only on a GPU: they are not simulated).
//
// Timing: one CUDA event pair (GpuTimer) around each run; before each run a memset of a buffer
// larger than the L2 cache (H200: 50 MB) evicts the previous run's data, so every run reads from
// HBM, as a training step does. On the simulator the flush buffer is small: its timings mean
// nothing, only its validation does.
#include <algorithm>
#include <vector>

#include "kernels/conv/conv_cuda.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "kernels/gemm/gemm_cuda.h"
#include "kernels/norm/norm_cuda.h"
#include "kernels/norm/norm_variants.h"
#include "kernels/runtime/kernel_choice.h"
#include "kernels/runtime/runtime.h"

namespace fer::bench {

Backend FER_BENCH_MAKE() {
  namespace ns = ::fer::FER_BENCH_NS;
  Backend b;
  b.name = FER_BENCH_DEVICE;
  b.on_gpu = FER_BENCH_VENDOR;
  b.alloc = [](size_t count) { return static_cast<float*>(ns::device_alloc(count * sizeof(float))); };
  b.free = [](float* p) { ns::device_free(p); };
  b.upload = [](float* dst, const float* host, size_t count) {
    ns::copy_host_to_device(dst, host, count * sizeof(float));
  };
  b.download = [](float* host, const float* src, size_t count) {
    ns::copy_device_to_host(host, src, count * sizeof(float));
  };
  b.synchronize = [] { ns::device_synchronize(); };
  b.time_ms = [](const std::function<void()>& run) {
    ns::GpuTimer timer;
    timer.start();
    run();
    timer.stop();
    return timer.elapsed_ms();
  };
  b.flush_caches = [] {
    constexpr size_t kFlushBytes = FER_BENCH_VENDOR ? size_t{256} << 20 : size_t{1} << 20;
    static void* flush = ns::device_alloc(kFlushBytes);  // held for the process: one allocation
    ns::device_memset_zero(flush, kFlushBytes);
  };
  b.variants = [](const std::string& family, const std::string& op) {
    auto native = [](const std::string& f) { return [f] { ns::set_kernel_choice(f, KernelChoice::Native); }; };
    // "v1", "v2" (built with +=: GCC 12's -Wrestrict misfires on "v" + std::to_string at -O3).
    auto v_name = [](int v) {
      std::string name(1, 'v');
      name += std::to_string(v);
      return name;
    };
    std::vector<Variant> out;
    if (family == "conv") {
      for (int v : {1, 2})
        out.push_back({v_name(v), &Impls::FER_BENCH_IMPL, [native, v] {
                         native("conv")();
                         ns::set_conv_variant(v);
                       }});
    } else if (family == "gemm") {
      const std::pair<const char*, int> gemm_variants[] = {{"v1", 1}, {"v2-64", 2}, {"v2-128", 3}, {"auto", 0}};
      for (const auto& [name, v] : gemm_variants)
        out.push_back({name, &Impls::FER_BENCH_IMPL, [native, v = v] {
                         native("gemm")();
                         ns::set_gemm_variant(v);
                       }});
    } else if (family == "norm") {
      for (int v : {1, 2})
        out.push_back({v_name(v), &Impls::FER_BENCH_IMPL, [native, v] {
                         native("norm")();
                         ns::set_norm_variant(v);
                       }});
    } else if (family == "elementwise") {
      for (int v : {1, 2})
        out.push_back({v_name(v), &Impls::FER_BENCH_IMPL, [v] { ns::set_elementwise_variant(v); }});
    } else {
      out.push_back({"cuda", &Impls::FER_BENCH_IMPL, [] {}});
    }
    const bool has_vendor = family == "conv" || family == "gemm" || op.rfind("batch_norm", 0) == 0;
    if (FER_BENCH_VENDOR && has_vendor)
      out.push_back({"vendor", &Impls::FER_BENCH_IMPL, [family] { ns::set_kernel_choice(family, KernelChoice::Vendor); },
                     true});
    return out;
  };
  b.restore_defaults = [] {
    if (FER_BENCH_VENDOR) ns::set_kernel_choice("all", KernelChoice::Native);
    ns::set_conv_variant(2);
    ns::set_gemm_variant(0);
    ns::set_norm_variant(2);
    ns::set_elementwise_variant(2);
  };
  b.copy_bandwidth_gbs = [] {
    if (!FER_BENCH_VENDOR) return 0.0;
    constexpr size_t kBytes = size_t{256} << 20;
    void* src = ns::device_alloc(kBytes);
    void* dst = ns::device_alloc(kBytes);
    ns::device_memset_zero(src, kBytes);
    std::vector<double> ms;
    for (int run = 0; run < 11; ++run) {
      ns::GpuTimer timer;
      timer.start();
      ns::copy_device_to_device(dst, src, kBytes);
      timer.stop();
      ms.push_back(timer.elapsed_ms());
    }
    ns::device_free(src);
    ns::device_free(dst);
    std::sort(ms.begin(), ms.end());
    return 2.0 * kBytes / (ms[ms.size() / 2] * 1e6);
  };
  b.memory_stats = [] { return ns::device_memory_stats(); };
  b.reset_peak_memory = [] { ns::reset_peak_device_memory(); };
  return b;
}

}  // namespace fer::bench
