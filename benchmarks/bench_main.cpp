// The `fer bench` command line (bench.h).
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "benchmarks/bench.h"
#include "benchmarks/kernel_bench.h"
#include "benchmarks/step_bench.h"
#include "kernels/common/error.h"

namespace fer::bench {
namespace {

constexpr const char* kUsage =
    "usage: fer bench kernels [--device cpu|cuda|cuda-sim] [--op NAME] [--json] [--validate-only]\n"
    "                         [--time-reference] [--budget-ms MS]\n"
    "       fer bench step --stage 1|2 [--batch B] [--device cpu|cuda|cuda-sim] [--steps N] [--warmup N] [--json]\n"
    "                      [--profile] [--cpu-conv auto|im2col] [--kernels native|vendor]\n"
    "kernels: validates every kernel version against the plain-loop reference, then times it (median ms,\n"
    "         GFLOP/s or GB/s, ratio to cblas_sgemm on the equivalent GEMM (cpu) or to cuDNN/cuBLAS (cuda)).\n"
    "         --op: a family (conv, gemm, norm, elementwise, pool, loss, optim, rdbp) or an op name;\n"
    "         --validate-only: tiny sizes, no timing; --time-reference: also time the conv/gemm plain loops.\n"
    "step:    median step time, images/s and peak memory of a stage-1 or stage-2 training step of the\n"
    "         default models (defaults: batch 32, 10 steps after 2 warm-up steps).\n"
    "         --profile: then as many steps again under the kernel profiler: ms per step in each kernel.\n"
    "         --kernels vendor: cuDNN/cuBLAS for conv, norm and gemm (--device cuda).\n"
    "         --cpu-conv im2col: the CPU convolutions without Winograd and phase planes (for comparison).\n"
    "--debug (fer's global flag): errors also name the failed C++ check and its source line.\n";

struct Args {
  std::vector<std::string> items;
  size_t at = 0;
  bool done() const { return at >= items.size(); }
  std::string value(const std::string& flag) {
    if (at >= items.size()) throw std::invalid_argument(flag + " needs a value");
    return items[at++];
  }
};

int usage_error(const std::string& message) {
  std::cerr << "fer bench: " << message << "\n" << kUsage;
  return 2;
}

int run_kernels(Args& args) {
  KernelBenchOptions o;
  bool json = false;
  while (!args.done()) {
    const std::string flag = args.items[args.at++];
    if (flag == "--device") o.device = args.value(flag);
    else if (flag == "--op") o.op = args.value(flag);
    else if (flag == "--json") json = true;
    else if (flag == "--validate-only") o.validate_only = true;
    else if (flag == "--time-reference") o.time_reference = true;
    else if (flag == "--budget-ms") o.budget_ms = std::stod(args.value(flag));
    else return usage_error("unknown flag '" + flag + "' for kernels");
  }
  const KernelReport report = run_kernel_benchmarks(o);
  if (json)
    std::cout << kernel_report_json(report).dump(1) << "\n";
  else
    print_kernel_table(std::cout, report);
  return report.all_valid() ? 0 : 1;
}

int run_step(Args& args) {
  StepBenchOptions o;
  bool json = false, stage_given = false;
  while (!args.done()) {
    const std::string flag = args.items[args.at++];
    if (flag == "--stage") o.stage = std::stoi(args.value(flag)), stage_given = true;
    else if (flag == "--batch") o.batch = std::stoll(args.value(flag));
    else if (flag == "--device") o.device = args.value(flag);
    else if (flag == "--steps") o.steps = std::stoi(args.value(flag));
    else if (flag == "--warmup") o.warmup = std::stoi(args.value(flag));
    else if (flag == "--json") json = true;
    else if (flag == "--profile") o.profile = true;
    else if (flag == "--cpu-conv") o.cpu_conv = args.value(flag);
    else if (flag == "--kernels") o.kernels = args.value(flag);
    else return usage_error("unknown flag '" + flag + "' for step");
  }
  if (!stage_given) return usage_error("step needs --stage 1|2");
  const StepReport report = run_step_benchmark(o);
  if (json)
    std::cout << step_report_json(report).dump(1) << "\n";
  else
    print_step_report(std::cout, report);
  return 0;
}

}  // namespace

int bench_main(int argc, char** argv, bool debug) {
  Args args{std::vector<std::string>(argv + 1, argv + argc)};
  if (args.done()) return usage_error("which benchmark: kernels or step?");
  const std::string what = args.items[args.at++];
  if (what == "--help" || what == "-h") {
    std::cout << kUsage;
    return 0;
  }
  try {
    if (what == "kernels") return run_kernels(args);
    if (what == "step") return run_step(args);
    return usage_error("unknown benchmark '" + what + "'");
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    std::cerr << "fer bench: " << error_text(e, debug) << "\n";
    return 1;
  }
}

}  // namespace fer::bench
