// The training-step benchmarks (`fer bench step`): stage 1 (FESGAN: D_img, D_z, then E and G
// with the identity loss) or stage 2 (joint-rdbp: R with G, then D_img) of the default models,
// run by train/'s own FoldTrainer on one random batch, reused every step so that only the step
// is timed (no data loading). Timing: `warmup` untimed steps, then `steps` timed ones with the
// steady clock (each step ends in .item() reads, which wait for the device); the median is
// reported, with the median CPU time of the process per step (robust on a shared machine).
// Memory: on the CPU, the growth of the peak resident set (getrusage ru_maxrss) from before the
// models are built to after the last step, the same measure benchmarks/reference/ takes of
// PyTorch; on a GPU, the caching allocator's peak of allocated bytes over the same span.
// With `profile`, another `steps` steps run after the timed ones under the kernel profiler
// (engine/profiler.h): time per step in each kernel, and what is left outside the kernels
// (allocation, autograd bookkeeping, the optimizer's host loop). They are not the timed steps:
// on a GPU the profiler waits for the device around every kernel.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "engine/profiler.h"

namespace fer::bench {

struct StepBenchOptions {
  int stage = 1;               // 1 or 2
  int64_t batch = 32;          // real images per step (stage 2 adds as many synthetic ones)
  std::string device = "cpu";  // cpu | cuda | cuda-sim
  int steps = 10;
  int warmup = 2;
  int64_t image_size = 64;     // the default model; smaller only for the validation test
  double width = 1.0;
  bool profile = false;        // also profile `steps` steps kernel by kernel
  std::string cpu_conv = "auto";  // the CPU convolutions' algorithm: auto | im2col (conv.h)
  std::string kernels = "native";  // native | vendor (cuDNN/cuBLAS on cuda; engine/kernel_selection.h)
};

struct StepReport {
  StepBenchOptions options;
  int threads = 0;             // OpenMP threads
  double median_ms = 0, min_ms = 0, max_ms = 0;  // wall clock
  double median_cpu_ms = 0;    // CPU time of all the process's threads per step
  double images_per_s = 0;     // real images of the batch per second
  int64_t peak_memory_bytes = 0;
  std::string memory_measure;  // "peak_rss_growth" | "device_peak_allocated"
  // The most bytes the tensors held at once (Storage::peak_live_bytes; without kernel scratch,
  // allocator caches and, on the CPU, the process's other memory).
  int64_t peak_tensor_bytes = 0;
  // With options.profile: the kernels' rows summed over the profiled steps, and the mean wall
  // time of one profiled step.
  std::vector<profiler::Row> profile;
  double profiled_step_ms = 0;
};

StepReport run_step_benchmark(const StepBenchOptions& options);
void print_step_report(std::ostream& out, const StepReport& report);
nlohmann::json step_report_json(const StepReport& report);

}  // namespace fer::bench
