// The kernel benchmark runner (kernel_bench.h).
#include "benchmarks/kernel_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "benchmarks/backend.h"
#include "benchmarks/kernel_cases.h"
#include "engine/tensor.h"
#include "kernels/common/compare.h"
#include "kernels/common/error.h"
#include "kernels/gemm/gemm.h"

namespace fer::bench {
namespace {

using HostBuffers = std::vector<std::vector<float>>;

std::vector<float> fill(const BufferSpec& spec, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(spec.count));
  for (float& x : v) {
    const float u = unit(rng);
    switch (spec.fill) {
      case Fill::Uniform: x = 2 * u - 1; break;
      case Fill::Positive: x = 0.5f + 1.5f * u; break;
      case Fill::Zero: x = 0; break;
      case Fill::One: x = 1; break;
      case Fill::Labels: x = std::min(std::floor(u * static_cast<float>(spec.classes)), static_cast<float>(spec.classes - 1)); break;
    }
  }
  return v;
}

// Inputs, then outputs (outputs get their fill too: in-place kernels such as Adam read them).
HostBuffers make_host_buffers(const KernelCase& c) {
  HostBuffers buffers;
  uint32_t seed = 1;
  for (const auto* list : {&c.inputs, &c.outputs})
    for (const BufferSpec& spec : *list) buffers.push_back(fill(spec, seed++));
  return buffers;
}

Ptrs host_ptrs(HostBuffers& buffers) {
  Ptrs p;
  for (auto& b : buffers) p.push_back(b.data());
  return p;
}

// The case's buffers on the backend's device, freed on scope exit.
class DeviceBuffers {
 public:
  DeviceBuffers(const Backend& backend, const HostBuffers& host) : backend_(backend) {
    for (const auto& h : host) {
      ptrs_.push_back(backend.alloc(std::max<size_t>(h.size(), 1)));
      backend.upload(ptrs_.back(), h.data(), h.size());
    }
  }
  ~DeviceBuffers() {
    for (float* p : ptrs_) backend_.free(p);
  }
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  const Ptrs& ptrs() const { return ptrs_; }

 private:
  const Backend& backend_;
  Ptrs ptrs_;
};

// Runs the version on the device from the same inputs as the reference and compares every
// output. Returns the first mismatch report, or "" when all match.
std::string validate(const Backend& backend, const KernelCase& c, const Variant& variant, const HostBuffers& initial,
                     const HostBuffers& ref) {
  DeviceBuffers dev(backend, initial);
  variant.select();
  (c.impls.*variant.impl)(dev.ptrs());
  backend.synchronize();
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    const size_t index = c.inputs.size() + o;
    std::vector<float> got(ref[index].size());
    backend.download(got.data(), dev.ptrs()[index], got.size());
    double scale = 0;
    for (float v : ref[index]) scale = std::max(scale, static_cast<double>(std::abs(v)));
    const CompareResult r = compare_values(got, ref[index], c.tolerance * std::max(scale, 1e-6), c.tolerance,
                                           c.op + " " + variant.name + " " + c.outputs[o].name + " (" + c.shape + ")");
    if (!r.ok) return r.report;
  }
  return "";
}

struct Timing {
  double ms = 0;
  int runs = 0;
};

Timing time_runs(const Backend& backend, const std::function<void()>& run, const KernelBenchOptions& o) {
  run();  // warm-up: first-touch allocation, cuDNN algorithm search, caches
  backend.synchronize();
  std::vector<double> ms;
  double total = 0;
  while (static_cast<int>(ms.size()) < o.max_runs && (ms.size() < 3 || total < o.budget_ms)) {
    backend.flush_caches();
    ms.push_back(backend.time_ms(run));
    total += ms.back();
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], static_cast<int>(ms.size())};
}

bool compute_bound(const KernelCase& c) { return c.flops > 0; }

KernelResult result_of(const KernelCase& c, const std::string& version) {
  KernelResult r;
  r.family = c.family, r.op = c.op, r.shape = c.shape, r.version = version;
  return r;
}

void set_rates(KernelResult& r, const KernelCase& c) {
  if (compute_bound(c))
    r.gflops = c.flops / (r.ms * 1e6);
  else
    r.gbs = c.bytes / (r.ms * 1e6);
}

// cblas_sgemm (through gemm_cpu) on the case's equivalent GEMM, on fresh host buffers.
Timing time_blas(const Backend& backend, const GemmDims& g, const KernelBenchOptions& o) {
  std::vector<float> a(static_cast<size_t>(g.M * g.K), 0.5f), b(static_cast<size_t>(g.K * g.N), 0.25f),
      out(static_cast<size_t>(g.M * g.N));
  return time_runs(backend,
                   [&] { gemm_cpu(false, false, g.M, g.N, g.K, 1.f, a.data(), g.K, b.data(), g.N, 0.f, out.data(), g.N); }, o);
}

void benchmark_case(const Backend& backend, const KernelCase& check, const KernelCase& full,
                    const KernelBenchOptions& o, KernelReport& report) {
  HostBuffers initial = make_host_buffers(check), ref = initial;
  check.impls.ref(host_ptrs(ref));
  const HostBuffers full_initial = o.validate_only ? HostBuffers{} : make_host_buffers(full);
  const size_t first = report.results.size();
  for (const Variant& variant : backend.variants(full.family, full.op)) {
    if (!(full.impls.*variant.impl)) continue;
    KernelResult r = result_of(full, variant.name);
    if (variant.impl != &Impls::ref) r.error = validate(backend, check, variant, initial, ref);
    r.valid = r.error.empty();
    const bool slow_reference = variant.impl == &Impls::ref && compute_bound(full) && !o.time_reference;
    if (r.valid && !o.validate_only && !slow_reference) {
      DeviceBuffers dev(backend, full_initial);
      variant.select();
      const Timing t = time_runs(backend, [&] { (full.impls.*variant.impl)(dev.ptrs()); }, o);
      r.timed = true, r.ms = t.ms, r.runs = t.runs;
      set_rates(r, full);
      if (variant.vendor) r.baseline = "vendor";
    }
    backend.restore_defaults();
    report.results.push_back(r);
  }
  if (o.validate_only) return;
  double baseline_ms = 0;
  std::string baseline;
  if (!backend.on_gpu && full.gemm.M > 0) {
    const Timing t = time_blas(backend, full.gemm, o);
    KernelResult r = result_of(full, "blas");
    r.timed = true, r.ms = t.ms, r.runs = t.runs, r.baseline = "blas";
    set_rates(r, full);
    report.results.push_back(r);
    baseline_ms = t.ms, baseline = "blas";
  }
  for (size_t i = first; i < report.results.size(); ++i)
    if (report.results[i].baseline == "vendor") baseline_ms = report.results[i].ms, baseline = "vendor";
  for (size_t i = first; i < report.results.size(); ++i) {
    KernelResult& r = report.results[i];
    if (!r.timed) continue;
    if (baseline_ms > 0) r.baseline = baseline, r.speedup = baseline_ms / r.ms;
    if (r.gbs > 0 && report.copy_bandwidth_gbs > 0) r.bandwidth_fraction = r.gbs / report.copy_bandwidth_gbs;
  }
}

}  // namespace

bool KernelReport::all_valid() const {
  return std::all_of(results.begin(), results.end(), [](const KernelResult& r) { return r.valid; });
}

KernelReport run_kernel_benchmarks(const KernelBenchOptions& o) {
  // Kernels are timed in the allocator state of training (Storage::keep_freed_host_memory):
  // without it each call of a fresh process paid page faults for its scratch (the 32x32 -> 16x16
  // k4s2 forward 50-56 ms per call against 33-35, 1 thread). `fer` sets it at start; this covers
  // other callers.
  if (!o.validate_only) Storage::keep_freed_host_memory();
  const Backend backend = make_backend(o.device);
  KernelReport report;
  report.device = o.device;
  const std::vector<KernelCase> checks = kernel_cases(o.validate_only ? CaseSize::Tiny : CaseSize::Check, o.op);
  const std::vector<KernelCase> fulls = o.validate_only ? checks : kernel_cases(CaseSize::Full, o.op);
  FER_CHECK(!checks.empty()) << "bench kernels: no op or family named '" << o.op << "'";
  if (!o.validate_only) report.copy_bandwidth_gbs = backend.copy_bandwidth_gbs();
  for (size_t i = 0; i < checks.size(); ++i) benchmark_case(backend, checks[i], fulls[i], o, report);
  return report;
}

void print_kernel_table(std::ostream& out, const KernelReport& report) {
  char line[512];
  std::snprintf(line, sizeof line, "%-34s %-40s %-8s %-5s %10s %12s %8s\n", "op", "shape", "version", "valid", "ms",
                "rate", "ratio");
  out << "device " << report.device;
  if (report.copy_bandwidth_gbs > 0) out << ", copy bandwidth " << report.copy_bandwidth_gbs << " GB/s";
  out << "\n" << line;
  for (const KernelResult& r : report.results) {
    char rate[32] = "", ratio[32] = "", ms[32] = "";
    if (r.timed) {
      std::snprintf(ms, sizeof ms, "%.4f", r.ms);
      if (r.gflops > 0) std::snprintf(rate, sizeof rate, "%.1f GFLOP/s", r.gflops);
      if (r.gbs > 0) std::snprintf(rate, sizeof rate, "%.1f GB/s", r.gbs);
      if (r.speedup > 0) std::snprintf(ratio, sizeof ratio, "%.2fx %s", r.speedup, r.baseline.c_str());
    }
    std::snprintf(line, sizeof line, "%-34s %-40s %-8s %-5s %10s %12s %8s\n", r.op.c_str(), r.shape.c_str(),
                  r.version.c_str(), r.valid ? "ok" : "FAIL", r.timed ? ms : "-", rate, ratio);
    out << line;
    if (!r.valid) out << "    " << r.error << "\n";
  }
}

nlohmann::json kernel_report_json(const KernelReport& report) {
  nlohmann::json results = nlohmann::json::array();
  for (const KernelResult& r : report.results) {
    nlohmann::json j = {{"family", r.family}, {"op", r.op}, {"shape", r.shape}, {"version", r.version}, {"valid", r.valid}};
    if (!r.valid) j["error"] = r.error;
    if (r.timed) {
      j["ms"] = r.ms;
      j["runs"] = r.runs;
      if (r.gflops > 0) j["gflops"] = r.gflops;
      if (r.gbs > 0) j["gbs"] = r.gbs;
      if (r.speedup > 0) j["speedup_vs_" + r.baseline] = r.speedup;
      if (r.bandwidth_fraction > 0) j["fraction_of_copy_bandwidth"] = r.bandwidth_fraction;
    }
    results.push_back(j);
  }
  return {{"device", report.device}, {"copy_bandwidth_gbs", report.copy_bandwidth_gbs}, {"results", results}};
}

}  // namespace fer::bench
