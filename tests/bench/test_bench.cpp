// The benchmarks must not rot: every kernel case runs in --validate-only mode (tiny odd sizes, no
// timing) on each device of the build, every version matching the plain-loop reference, and
// the training-step benchmark runs one step of each stage of a small model.
// No timing is checked (no timed tests).
#include <catch2/catch.hpp>
#include <set>

#include "benchmarks/bench.h"
#include "benchmarks/kernel_bench.h"
#include "benchmarks/step_bench.h"
#include "kernels/conv/conv.h"

using namespace fer::bench;

namespace {

void require_all_versions_valid(const std::string& device) {
  KernelBenchOptions o;
  o.device = device;
  o.validate_only = true;
  const KernelReport report = run_kernel_benchmarks(o);
  std::set<std::string> families;
  for (const KernelResult& r : report.results) {
    INFO(r.op << " " << r.version << " " << r.shape << ": " << r.error);
    CHECK(r.valid);
    CHECK_FALSE(r.timed);
    families.insert(r.family);
  }
  REQUIRE(families == std::set<std::string>{"conv", "gemm", "norm", "elementwise", "pool", "loss", "optim", "rdbp"});
}

int bench(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return bench_main(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("bench kernels --validate-only: every cpu version matches the reference", "[cpu]") {
  require_all_versions_valid("cpu");
}

TEST_CASE("bench kernels times conv's cpu path with its algorithm choice and with im2col only", "[cpu]") {
  KernelBenchOptions o;
  o.op = "conv2d_forward";
  o.validate_only = true;
  std::set<std::string> versions;
  for (const KernelResult& r : run_kernel_benchmarks(o).results) versions.insert(r.version);
  REQUIRE(versions == std::set<std::string>{"ref", "cpu", "cpu-im2col"});
  REQUIRE(fer::conv_cpu_algorithm() == fer::ConvCpuAlgorithm::Auto);  // restored afterwards
}

#ifdef FER_WITH_CUDA_SIM
TEST_CASE("bench kernels --validate-only: every cuda-sim variant matches the reference", "[cuda-sim]") {
  require_all_versions_valid("cuda-sim");
}
#endif

#ifdef FER_WITH_CUDA
TEST_CASE("bench kernels --validate-only: every variant and the vendor versions match the reference (cuda)", "[cuda]") {
  require_all_versions_valid("cuda");
}
#endif

TEST_CASE("bench kernels times the versions and compares the cpu path with cblas_sgemm", "[cpu]") {
  KernelBenchOptions o;
  o.op = "linear_forward";
  o.budget_ms = 1;
  o.max_runs = 3;
  const KernelReport report = run_kernel_benchmarks(o);
  std::set<std::string> versions;
  for (const KernelResult& r : report.results) {
    versions.insert(r.version);
    REQUIRE(r.valid);
    if (r.version == "ref") continue;  // the plain loops of gemm are only timed on request
    REQUIRE(r.timed);
    REQUIRE(r.runs == 3);
    REQUIRE(r.gflops > 0);
    REQUIRE(r.baseline == "blas");
    REQUIRE(r.speedup > 0);
  }
  REQUIRE(versions == std::set<std::string>{"ref", "cpu", "blas"});
  REQUIRE(kernel_report_json(report)["results"].size() == report.results.size());
}

TEST_CASE("bench step runs a stage-1 and a stage-2 step of a small model", "[cpu]") {
  for (int stage : {1, 2}) {
    StepBenchOptions o;
    o.stage = stage;
    o.batch = 3;
    o.steps = 1;
    o.warmup = 0;
    o.image_size = 16;
    o.width = 0.125;
    const StepReport r = run_step_benchmark(o);
    REQUIRE(r.median_ms > 0);
    REQUIRE(r.images_per_s > 0);
    REQUIRE(r.memory_measure == "peak_rss_growth");
    REQUIRE(step_report_json(r)["stage"] == stage);
  }
}

TEST_CASE("bench step --profile adds the kernels' time per step", "[cpu]") {
  StepBenchOptions o;
  o.batch = 2;
  o.steps = 2;
  o.warmup = 0;
  o.image_size = 16;
  o.width = 0.125;
  o.profile = true;
  const StepReport r = run_step_benchmark(o);
  REQUIRE(r.profiled_step_ms > 0);
  REQUIRE(!r.profile.empty());
  double in_kernels = 0;
  for (const fer::profiler::Row& row : r.profile) in_kernels += row.total_ms / o.steps;
  REQUIRE(in_kernels <= r.profiled_step_ms);
  const nlohmann::json j = step_report_json(r);
  REQUIRE(j["profile"].size() == r.profile.size());
  REQUIRE(j["profile"][0].contains("ms_per_step"));
  REQUIRE(!fer::profiler::enabled());  // off again after the benchmark
}

TEST_CASE("bench command: usage errors exit 2, unknown ops exit 1, help exits 0", "[cpu]") {
  REQUIRE(bench({"bench", "--help"}) == 0);
  REQUIRE(bench({"bench"}) == 2);
  REQUIRE(bench({"bench", "kernels", "--frobnicate"}) == 2);
  REQUIRE(bench({"bench", "step", "--batch", "4"}) == 2);
  REQUIRE(bench({"bench", "kernels", "--op", "no_such_op", "--validate-only"}) == 1);
  REQUIRE(bench({"bench", "kernels", "--device", "tpu", "--validate-only"}) == 1);
}
