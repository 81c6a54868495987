// Fibers for the simulator: user-level execution contexts, each on its own small stack, switched
// by a hand-written x86-64 routine (fiber.cpp) that saves only the callee-saved registers - a few
// nanoseconds per switch, no system call (ucontext's swapcontext makes one per switch to save the
// signal mask). Internal to kernels/sim/.
#pragma once
#include <cstddef>

namespace fersim::detail {

// A suspended execution: its stack pointer, where the switch left its callee-saved registers and
// its return address. Under AddressSanitizer it also carries the bounds of its stack, which ASan
// must be told about at every switch.
struct Context {
  void* stack_pointer = nullptr;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
};

// A fiber stack: reserved with mmap (pages are committed only when touched, so a deep reserve is
// cheap), with an inaccessible guard page below it so that an overflow faults instead of
// silently overwriting a neighbour.
class FiberStack {
 public:
  static constexpr size_t kBytes = 256 * 1024;
  // `number` staggers where the stack starts within its page: stacks that all start at the same
  // page offset map their hot top lines to the same cache sets and evict each other.
  explicit FiberStack(size_t number);
  ~FiberStack();
  FiberStack(FiberStack&& other) noexcept;
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  FiberStack& operator=(FiberStack&&) = delete;

  // The usable part: [bottom, bottom + size).
  void* bottom() const { return static_cast<char*>(mapping_) + page_; }
  size_t size() const { return kBytes - page_ - color_; }

 private:
  void* mapping_ = nullptr;
  size_t page_ = 0;
  size_t color_ = 0;
};

// Makes `context` start `entry(arg)` on `stack` at the first switch to it. `entry` must never
// return: it ends by switching away for good (switch_context with finished = true).
void prepare_context(Context& context, const FiberStack& stack, void (*entry)(void*), void* arg);

// Saves the running execution into `from` and resumes `to`; returns when something switches back
// to `from`. `finished` says that `from` will never be resumed (lets ASan drop its fake stack).
void switch_context(Context& from, Context& to, bool finished = false);

// First call on a new fiber: completes the switch that started it (ASan learns the bounds of the
// stack that switched to it, recorded into `caller`).
void start_fiber(Context& caller);

}  // namespace fersim::detail
