// The device a benchmark runs on, as a table of functions: memory, copies, one timed run, the
// cache flush between runs, and the kernel versions each op family offers there. The CPU table
// is in backend.cpp; the CUDA tables (cuda on a GPU, cuda-sim on the simulator) are built from one
// source, cuda_backend_impl.h, compiled once per namespace (the project's own two-build scheme).
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "kernels/runtime/device_memory.h"

namespace fer::bench {

using Ptrs = std::vector<float*>;
using KernelFn = std::function<void(const Ptrs&)>;

// One implementation of a kernel per place it can run; empty where the build lacks it.
struct Impls {
  KernelFn ref, cpu, cuda, sim;
};

// A version of a kernel on a device: which implementation it calls and the process-wide
// settings (variant, vendor library) that select it.
struct Variant {
  std::string name;
  KernelFn Impls::*impl;
  std::function<void()> select;
  bool vendor = false;  // the comparison baseline on a GPU
};

struct Backend {
  std::string name;  // cpu | cuda | cuda-sim
  bool on_gpu = false;  // times with CUDA events and compares against the vendor version
  std::function<float*(size_t count)> alloc;
  std::function<void(float*)> free;
  std::function<void(float* dst, const float* host, size_t count)> upload;
  std::function<void(float* host, const float* src, size_t count)> download;
  std::function<void()> synchronize;
  // Milliseconds of one call of `run` (CUDA events on a device, the steady clock on the host).
  std::function<double(const std::function<void()>& run)> time_ms;
  // Evicts the benchmark's data from the caches between timed runs (a no-op on the host).
  std::function<void()> flush_caches;
  // The versions of a kernel of `family`; `op` lets a family offer its vendor twin for some
  // ops only (cuDNN has batch norm, not instance norm).
  std::function<std::vector<Variant>(const std::string& family, const std::string& op)> variants;
  // Back to the default versions after a benchmark changed them.
  std::function<void()> restore_defaults;
  // Device-to-device copy bandwidth (bytes read + written per second / 1e9); 0 where not
  // meaningful (the host, the simulator).
  std::function<double()> copy_bandwidth_gbs;
  std::function<DeviceMemoryStats()> memory_stats;
  std::function<void()> reset_peak_memory;
};

// name: cpu | cuda | cuda-sim; throws when the build lacks that backend.
Backend make_backend(const std::string& name);

#ifdef FER_WITH_CUDA
Backend make_cuda_backend();
#endif
#ifdef FER_WITH_CUDA_SIM
Backend make_cudasim_backend();
#endif

}  // namespace fer::bench
