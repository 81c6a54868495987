// The training-step benchmark (step_bench.h).
#include "benchmarks/step_bench.h"

#include <omp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "benchmarks/backend.h"
#include "engine/kernel_selection.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "kernels/common/error.h"
#include "kernels/conv/conv.h"
#include "train/trainer.h"

namespace fer::bench {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSubjects = 8;  // enough for the identity network (and its loss) to be on

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

// CPU time of every thread of the process: on a machine shared with other work it counts what
// the step computed, where the wall clock also counts the time other processes held the cores.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// `rows` random faces in [-1, 1] with labels and subjects cycling through their ranges.
train::ImageSet random_images(const models::ModelConfig& m, int64_t rows) {
  train::ImageSet set;
  RandomStream rng(5);
  set.images = uniform({rows, m.channels, m.image_size, m.image_size}, -1, 1, rng, Device::CPU);
  for (int64_t i = 0; i < rows; ++i) {
    set.labels.push_back(static_cast<float>(i % m.classes));
    set.subjects.push_back(i % kSubjects);
  }
  set.num_subjects = kSubjects;
  return set;
}

// As after stage 0 (FoldTrainer::run_stage): the identity network in eval mode, without
// gradients of its own; the identity loss still back-propagates through it into G.
void freeze_identity_net(train::FoldTrainer& trainer) {
  nn::Module* id = trainer.objects().modules.at("Id");
  id->eval();
  id->set_requires_grad(false);
}

train::TrainConfig step_config(const StepBenchOptions& o) {
  train::TrainConfig c;
  c.mode = "joint-rdbp";
  c.device = o.device;
  c.model = models::ModelConfig{};  // the design's default models, whatever the training recipe
  c.model.image_size = o.image_size;
  c.model.width = o.width;
  c.stage1.batch_size = c.stage2.batch_size = c.stage2.synth_batch = o.batch;
  return c;
}

}  // namespace

StepReport run_step_benchmark(const StepBenchOptions& o) {
  FER_CHECK(o.stage == 1 || o.stage == 2) << "bench step: --stage must be 1 or 2, got " << o.stage;
  FER_CHECK(o.batch >= 1 && o.steps >= 1 && o.warmup >= 0)
      << "bench step: needs --batch >= 1, --steps >= 1, --warmup >= 0; got " << o.batch << ", " << o.steps << ", "
      << o.warmup;
  FER_CHECK(o.cpu_conv == "auto" || o.cpu_conv == "im2col")
      << "bench step: --cpu-conv must be auto or im2col, got '" << o.cpu_conv << "'";
  const Backend backend = make_backend(o.device);
  set_conv_cpu_algorithm(o.cpu_conv == "im2col" ? ConvCpuAlgorithm::Im2col : ConvCpuAlgorithm::Auto);
  select_kernels(parse_device(o.device), parse_kernel_choice(o.kernels));
  const train::TrainConfig config = step_config(o);
  const fs::path dir = fs::temp_directory_path() / (std::string("fer_bench_step_") + std::to_string(::getpid()));
  const int64_t rss_before = peak_rss_bytes();
  backend.reset_peak_memory();
  Storage::reset_peak_live_bytes();

  std::vector<double> ms, cpu_ms;
  double profiled_ms = 0;
  {
    train::ImageSet images = random_images(config.model, o.batch);
    train::FoldData data{images, images, images, {}};
    train::RunLog log((dir / "metrics.jsonl").string(), true);
    train::FoldTrainer trainer(config, std::move(data), dir.string(), 0, log);
    std::vector<int64_t> rows(static_cast<size_t>(o.batch));
    for (int64_t i = 0; i < o.batch; ++i) rows[static_cast<size_t>(i)] = i;
    const train::Batch batch = trainer.batch_of(images, rows);
    freeze_identity_net(trainer);
    auto step = [&] { return o.stage == 1 ? trainer.fesgan_step(batch) : trainer.joint_step(batch); };
    for (int i = 0; i < o.warmup; ++i) step();
    for (int i = 0; i < o.steps; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = process_cpu_ms();
      step();
      backend.synchronize();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      cpu_ms.push_back(process_cpu_ms() - cpu_start);
    }
    if (o.profile) {
      profiler::start(backend.synchronize);
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < o.steps; ++i) step();
      backend.synchronize();
      profiled_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      profiler::stop();
    }
  }
  fs::remove_all(dir);
  set_conv_cpu_algorithm(ConvCpuAlgorithm::Auto);
  select_kernels(parse_device(o.device), KernelChoice::Native);

  StepReport r;
  r.options = o;
  r.threads = omp_get_max_threads();
  std::sort(ms.begin(), ms.end());
  r.median_ms = ms[ms.size() / 2], r.min_ms = ms.front(), r.max_ms = ms.back();
  std::sort(cpu_ms.begin(), cpu_ms.end());
  r.median_cpu_ms = cpu_ms[cpu_ms.size() / 2];
  r.images_per_s = static_cast<double>(o.batch) / (r.median_ms / 1000);
  r.peak_tensor_bytes = Storage::peak_live_bytes();
  if (o.device == "cpu") {
    r.peak_memory_bytes = peak_rss_bytes() - rss_before;
    r.memory_measure = "peak_rss_growth";
  } else {
    r.peak_memory_bytes = static_cast<int64_t>(backend.memory_stats().peak_allocated_bytes);
    r.memory_measure = "device_peak_allocated";
  }
  if (o.profile) {
    r.profile = profiler::rows();
    r.profiled_step_ms = profiled_ms / o.steps;
  }
  return r;
}

namespace {

// One line of the profile table: name, calls per step, ms per step, share of the profiled step.
void print_profile_line(std::ostream& out, const std::string& name, double calls, double ms, double step_ms) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-60s %8.1f %10.2f %6.1f%%\n", name.c_str(), calls, ms, 100 * ms / step_ms);
  out << line;
}

void print_profile(std::ostream& out, const StepReport& r) {
  const double steps = r.options.steps;
  out << "kernel profile, " << r.profiled_step_ms << " ms per profiled step:\n";
  char header[160];
  std::snprintf(header, sizeof header, "  %-60s %8s %10s %7s\n", "kernel", "calls", "ms/step", "share");
  out << header;
  double in_kernels = 0;
  for (const profiler::Row& row : r.profile) {
    const std::string name = row.detail.empty() ? row.op : row.op + " " + row.detail;
    print_profile_line(out, name, static_cast<double>(row.calls) / steps, row.total_ms / steps, r.profiled_step_ms);
    in_kernels += row.total_ms / steps;
  }
  print_profile_line(out, "(outside the kernels)", 0, r.profiled_step_ms - in_kernels, r.profiled_step_ms);
}

}  // namespace

void print_step_report(std::ostream& out, const StepReport& r) {
  out << "stage " << r.options.stage << " step, batch " << r.options.batch << ", device " << r.options.device << ", "
      << r.threads << " threads, " << r.options.steps << " steps after " << r.options.warmup << " warm-up\n"
      << "  median " << r.median_ms << " ms (min " << r.min_ms << ", max " << r.max_ms << "), CPU time "
      << r.median_cpu_ms << " ms, " << r.images_per_s
      << " images/s, " << r.memory_measure << " " << static_cast<double>(r.peak_memory_bytes) / (1 << 20)
      << " MiB (tensors at their peak " << static_cast<double>(r.peak_tensor_bytes) / (1 << 20) << " MiB)\n";
  if (r.options.profile) print_profile(out, r);
}

nlohmann::json step_report_json(const StepReport& r) {
  nlohmann::json j = {{"stage", r.options.stage},     {"batch", r.options.batch},         {"device", r.options.device},
          {"steps", r.options.steps},     {"warmup", r.options.warmup},       {"image_size", r.options.image_size},
          {"threads", r.threads},         {"median_ms", r.median_ms},         {"min_ms", r.min_ms},
          {"max_ms", r.max_ms},           {"median_cpu_ms", r.median_cpu_ms},           {"images_per_s", r.images_per_s},   {"peak_memory_bytes", r.peak_memory_bytes}, {"peak_tensor_bytes", r.peak_tensor_bytes},
          {"memory_measure", r.memory_measure}, {"cpu_conv", r.options.cpu_conv}};
  if (!r.options.profile) return j;
  nlohmann::json rows = nlohmann::json::array();
  for (const profiler::Row& row : r.profile)
    rows.push_back({{"kernel", row.op},
                    {"shape", row.detail},
                    {"calls_per_step", static_cast<double>(row.calls) / r.options.steps},
                    {"ms_per_step", row.total_ms / r.options.steps}});
  j["profile"] = rows;
  j["profiled_step_ms"] = r.profiled_step_ms;
  return j;
}

}  // namespace fer::bench
