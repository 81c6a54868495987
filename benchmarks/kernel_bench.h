// The kernel micro-benchmarks (`fer bench kernels`): for each case of kernel_cases.h and each
// version of it on the device, validate against the plain-loop reference at the Check size, then
// time at the Full size: one warm-up call, then runs with the caches flushed before each (on a
// GPU), as many as fit a time budget (at least 3, at most max_runs), and the median.
// Ratios: on the CPU, the time of cblas_sgemm (gemm_cpu) on the equivalent GEMM over the
// version's time; on a GPU, the vendor version's time over the version's (>1: faster than
// cuDNN/cuBLAS); memory-bound kernels on a GPU also report the fraction of the device-to-device
// copy bandwidth measured in the same run.
#pragma once
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace fer::bench {

struct KernelBenchOptions {
  std::string device = "cpu";  // cpu | cuda | cuda-sim
  std::string op;              // a family or op name; empty: all
  bool validate_only = false;  // Tiny sizes, no timing (CI)
  bool time_reference = false; // also time the plain loops of conv and gemm (slow at batch 32)
  double budget_ms = 250;      // timed runs per version stop after about this long
  int max_runs = 50;
};

struct KernelResult {
  std::string family, op, shape, version;
  bool valid = true;
  std::string error;          // the comparison's report when not valid
  bool timed = false;
  double ms = 0;              // median
  int runs = 0;
  double gflops = 0;          // compute-bound cases
  double gbs = 0;             // memory-bound cases
  std::string baseline;       // "blas" (cpu) or "vendor" (gpu); empty: none
  double speedup = 0;         // baseline ms / ms; 0 when there is none
  double bandwidth_fraction = 0;  // of the measured copy bandwidth (GPU, memory-bound)
};

struct KernelReport {
  std::string device;
  double copy_bandwidth_gbs = 0;  // 0: not measured (cpu, cuda-sim)
  std::vector<KernelResult> results;
  bool all_valid() const;
};

KernelReport run_kernel_benchmarks(const KernelBenchOptions& options);
void print_kernel_table(std::ostream& out, const KernelReport& report);
nlohmann::json kernel_report_json(const KernelReport& report);

}  // namespace fer::bench
