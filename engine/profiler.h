// The kernel profiler: time spent in each kernel the engine dispatches (FER_DISPATCH), for
// `fer bench step --profile` and anyone tuning a kernel who wants to know where a step goes.
//
// Off by default; then a dispatch costs one relaxed atomic load. While on, every dispatch is
// timed with the steady clock and added to its op's row (calls, total time). On a GPU the
// kernels run asynchronously, so start() takes the device's synchronize function and every timed
// dispatch waits for the device before and after: the profile then shows each kernel's own time,
// at the price of the overlap the step would otherwise have (profile a step, time it separately).
// Dispatches inside a timed dispatch count towards the outer one only. An op may name the shape
// it dispatches (Detail): the rows are then per kernel and shape.
//
// Threading: dispatches come from the one thread that runs the step; the rows are not locked.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fer::profiler {

struct Row {
  std::string op;       // the kernel's name as dispatched, e.g. conv2d_backward_data
  std::string detail;   // the shape the op named, e.g. "32x64x32x32 k128 r4s2"; may be empty
  int64_t calls = 0;
  double total_ms = 0;
};

// Clears the rows and starts timing; synchronize waits for the device (empty on the host).
void start(std::function<void()> synchronize = {});
void stop();
bool enabled();
// The rows recorded since start(), the most expensive first.
std::vector<Row> rows();

// Names the shape of the dispatches made while it lives (the innermost one wins; the outer one's
// name comes back when it ends); `describe` (returning std::string) is only called while the
// profiler is on.
class Detail {
 public:
  template <typename F>
  explicit Detail(F describe) {
    if (enabled()) set(describe());
  }
  ~Detail();
  Detail(const Detail&) = delete;
  Detail& operator=(const Detail&) = delete;

 private:
  void set(std::string detail);
  bool set_ = false;
  std::string outer_;  // the detail before this one
};

// Times one dispatch of `op` while the profiler is on (FER_DISPATCH declares one).
class Scope {
 public:
  explicit Scope(const char* op);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* op_ = nullptr;  // null: not timed (profiler off, or nested in a timed dispatch)
  std::string detail_;
  int64_t start_ns_ = 0;
};

}  // namespace fer::profiler
