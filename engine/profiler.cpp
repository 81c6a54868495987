// The kernel profiler (profiler.h).
#include "engine/profiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <utility>

namespace fer::profiler {
namespace {

struct State {
  std::atomic<bool> on{false};
  std::function<void()> synchronize;
  std::map<std::pair<std::string, std::string>, Row> rows;  // by (op, detail)
  std::string detail;  // the innermost live Detail's
  int depth = 0;  // timed dispatches open now (0 or 1: nested ones are not timed)
};

State& state() {
  static State s;
  return s;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void wait_for_device() {
  if (state().synchronize) state().synchronize();
}

}  // namespace

void start(std::function<void()> synchronize) {
  State& s = state();
  s.rows.clear();
  s.detail.clear();
  s.synchronize = std::move(synchronize);
  s.depth = 0;
  s.on.store(true, std::memory_order_relaxed);
}

void stop() { state().on.store(false, std::memory_order_relaxed); }

bool enabled() { return state().on.load(std::memory_order_relaxed); }

std::vector<Row> rows() {
  std::vector<Row> out;
  for (const auto& entry : state().rows) out.push_back(entry.second);
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.total_ms > b.total_ms; });
  return out;
}

void Detail::set(std::string detail) {
  outer_ = std::exchange(state().detail, std::move(detail));
  set_ = true;
}

Detail::~Detail() {
  if (set_) state().detail = std::move(outer_);
}

Scope::Scope(const char* op) {
  State& s = state();
  if (!enabled() || s.depth > 0) return;
  wait_for_device();  // the time of kernels queued before this one is not this one's
  op_ = op;
  detail_ = s.detail;
  ++s.depth;
  start_ns_ = now_ns();
}

Scope::~Scope() {
  if (!op_) return;
  State& s = state();
  try {
    wait_for_device();
  } catch (...) {  // unwinding from the kernel's own error, which is the one to report
  }
  const double ms = static_cast<double>(now_ns() - start_ns_) * 1e-6;
  --s.depth;
  Row& row = s.rows[{op_, detail_}];
  row.op = op_;
  row.detail = detail_;
  ++row.calls;
  row.total_ms += ms;
}

}  // namespace fer::profiler
