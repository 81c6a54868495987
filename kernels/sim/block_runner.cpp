// Runs one block of a launch: its CUDA threads as fibers on the calling OS thread.
//
// Scheduling. The block advances in sweeps: a sweep resumes every ready thread once, in the
// launch's ThreadOrder, and each runs until it finishes, reaches __syncthreads, or reaches a
// warp-level operation. A kernel without barriers therefore runs thread after thread, with one
// switch in and one out per thread. After a sweep:
//   - warp groups whose lanes have all arrived at their warp operation are completed (results
//     computed from the values the lanes left) and made ready;
//   - otherwise, if no thread waits at a warp operation, the barrier opens: every thread waiting
//     at __syncthreads becomes ready. Threads that have exited do not hold the barrier up (as on
//     Volta and later);
//   - otherwise nothing can move: the block is deadlocked (e.g. a __syncthreads or a full-mask
//     shuffle that some threads never reach) and the launch fails with a report.
//
// Warp operations. A lane states its operation, mask and 64-bit value, then suspends. The group
// of lane l is its mask (plus l itself) restricted to the warp's lanes that exist and have not
// exited; it completes when every lane of the group waits at the same kind of operation with the
// same group. Partial warps (blocks that are not a multiple of 32 threads) simply have fewer lanes.
// __activemask is a warp operation too: after a sweep, when every thread is suspended, the lanes
// of a warp that wait at it form its result.
//
// Shared memory. Each runner owns one block's static shared memory (an arena of 48 KiB, the
// GPU's static limit, handed out per declaration when the block first reaches it) and its dynamic
// shared buffer; both are filled with 0xFF bytes (NaN) for every block, so a kernel that reads
// shared memory it did not write in this block sees garbage, as it may on a GPU.
//
// Checks that fail the launch with a message naming the thread: static plus dynamic shared
// memory over the launch's limit; a shuffle that reads a lane that has exited, does not exist or
// is not in the group (undefined on a GPU); a failure raised by device code (fail_kernel_thread,
// e.g. a misaligned access, kernels/sim/misaligned_access.cpp).
//
// Layout: thread linear index i = x + y*blockDim.x + z*blockDim.x*blockDim.y, warp = i / 32,
// lane = i % 32, as on a GPU.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <numeric>
#include <sstream>
#include <vector>

#include "kernels/sim/fiber.h"
#include "kernels/sim/internal.h"

namespace fersim {

constinit thread_local uint3 threadIdx{};
constinit thread_local uint3 blockIdx{};
constinit thread_local dim3 blockDim{};
constinit thread_local dim3 gridDim{};

namespace detail {

constinit thread_local void* current_dynamic_shared = nullptr;

namespace {

enum class ThreadState : uint8_t { Ready, AtBarrier, AtWarpOp, Done };

constexpr unsigned kNoStack = ~0u;

struct CudaThread {
  Context context;
  uint3 index;
  ThreadState state;
  unsigned stack;  // index into the runner's stacks, kNoStack before the thread first runs
  // The pending warp operation.
  WarpOp op;
  unsigned mask;
  int source_lane;  // shuffles: the lane whose value this lane receives; -1 keeps its own value
  uint64_t value;
  uint64_t result;
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint3 unflatten(uint64_t linear, dim3 extent) {
  return uint3{static_cast<unsigned>(linear % extent.x), static_cast<unsigned>(linear / extent.x % extent.y),
               static_cast<unsigned>(linear / (uint64_t{extent.x} * extent.y))};
}

std::string describe(uint3 v) {
  std::ostringstream text;
  text << "(" << v.x << "," << v.y << "," << v.z << ")";
  return text.str();
}

// Which lane a shuffle reads, following CUDA's rules for `width` segments; -1: the lane's own value.
int shuffle_source(int lane, ShuffleMode mode, int operand, int width) {
  if (width <= 0 || width > warpSize || (width & (width - 1)) != 0) width = warpSize;
  const int start = lane & ~(width - 1);
  switch (mode) {
    case ShuffleMode::Index:
      return start + (operand & (width - 1));
    case ShuffleMode::Up:
      return operand >= 0 && lane - start >= operand ? lane - operand : -1;
    case ShuffleMode::Down:
      return operand >= 0 && lane - start + operand < width ? lane + operand : -1;
    case ShuffleMode::Xor: {
      // Lanes may read earlier segments but not later ones.
      const int source = lane ^ operand;
      return source >= 0 && source < start + width ? source : -1;
    }
  }
  return -1;
}

class BlockRunner {
 public:
  std::string run(const GridLaunch& launch, uint64_t linear_block);

  void suspend(ThreadState state) {
    CudaThread& self = *current_;
    self.state = state;
    switch_context(self.context, scheduler_);
  }
  uint64_t wait_at_warp_op(WarpOp op, unsigned mask, uint64_t value, int source_lane) {
    CudaThread& self = *current_;
    self.op = op;
    self.mask = mask;
    self.value = value;
    self.source_lane = source_lane;
    suspend(ThreadState::AtWarpOp);
    return self.result;
  }
  unsigned current_lane() const { return static_cast<unsigned>(current_ - threads_.data()) % warpSize; }
  unsigned live_lanes(unsigned warp) const;
  bool in_kernel() const { return current_ != nullptr; }
  void* static_shared(const void* declaration, size_t bytes, size_t alignment);
  [[noreturn]] void fail_current_thread(const std::string& message);

 private:
  static void thread_main(void* arg);
  void start_block(const GridLaunch& launch, uint64_t linear_block);
  void prepare_dynamic_shared(const GridLaunch& launch);
  void sweep();
  void resume(CudaThread& thread);
  unsigned group_of(unsigned warp, unsigned lane, unsigned live) const;
  bool release_warp_groups();
  bool group_complete(unsigned warp, unsigned group, unsigned live) const;
  void complete_warp_op(unsigned warp, unsigned group);
  void release_barrier();
  std::string deadlock_report() const;
  std::string bad_shuffle_report(const CudaThread& thread, unsigned group, unsigned live) const;

  struct StaticSharedVariable {
    const void* declaration;
    size_t offset;
  };

  std::vector<FiberStack> stacks_;  // pooled: kept across blocks and launches
  std::vector<unsigned> free_stacks_;  // LIFO, so that the next thread gets the stack still in cache
  std::vector<CudaThread> threads_;
  std::vector<unsigned> order_;
  std::vector<double2> dynamic_shared_;  // 16-byte aligned
  std::vector<double2> static_shared_ = std::vector<double2>(kSharedMemPerBlock / sizeof(double2));
  std::vector<StaticSharedVariable> static_shared_variables_;  // of the running block
  size_t static_shared_bytes_ = 0;                             // of the running block
  Context scheduler_;
  const GridLaunch* launch_ = nullptr;
  CudaThread* current_ = nullptr;
  uint64_t rng_ = 0;
  unsigned at_barrier_ = 0;
  unsigned at_warp_op_ = 0;
  unsigned done_ = 0;
  std::string failure_;
};

constinit thread_local BlockRunner* active_runner = nullptr;  // while a block runs on this OS thread

BlockRunner& runner_in_kernel(const char* what) {
  if (!active_runner || !active_runner->in_kernel()) {
    std::fprintf(stderr, "fersim: %s called outside a kernel\n", what);
    std::abort();
  }
  return *active_runner;
}

void BlockRunner::thread_main(void* arg) {
  auto& self = *static_cast<CudaThread*>(arg);
  BlockRunner& runner = *active_runner;
  start_fiber(runner.scheduler_);
  try {
    runner.launch_->body.invoke(runner.launch_->body.body);
  } catch (const std::exception& e) {
    runner.failure_ = "thread " + describe(self.index) + " threw: " + e.what();
  } catch (...) {
    runner.failure_ = "thread " + describe(self.index) + " threw an unknown exception";
  }
  self.state = ThreadState::Done;
  switch_context(self.context, runner.scheduler_, /*finished=*/true);
  __builtin_unreachable();
}

std::string BlockRunner::run(const GridLaunch& launch, uint64_t linear_block) {
  start_block(launch, linear_block);
  active_runner = this;
  const auto count = static_cast<unsigned>(threads_.size());
  while (done_ < count && failure_.empty()) {
    sweep();
    if (!failure_.empty() || done_ == count) break;
    if (release_warp_groups()) continue;
    if (at_warp_op_ == 0 && at_barrier_ > 0) {
      release_barrier();
      continue;
    }
    failure_ = deadlock_report();
  }
  active_runner = nullptr;
  // Threads still suspended after a failure are abandoned: their stacks are reused as they are.
  if (failure_.empty()) return {};
  return "block " + describe(unflatten(linear_block, launch.grid)) + ": " + failure_;
}

void BlockRunner::start_block(const GridLaunch& launch, uint64_t linear_block) {
  launch_ = &launch;
  failure_.clear();
  const unsigned count = launch.threads_per_block();
  threads_.resize(count);
  for (unsigned i = 0; i < count; ++i) {
    CudaThread& thread = threads_[i];
    thread.index = unflatten(i, launch.block);
    thread.state = ThreadState::Ready;
    thread.stack = kNoStack;
  }
  free_stacks_.resize(stacks_.size());
  std::iota(free_stacks_.rbegin(), free_stacks_.rend(), 0u);
  at_barrier_ = at_warp_op_ = done_ = 0;
  uint64_t mix = linear_block;
  rng_ = launch.seed ^ splitmix64(mix);
  blockIdx = unflatten(linear_block, launch.grid);
  blockDim = launch.block;
  gridDim = launch.grid;
  prepare_dynamic_shared(launch);
  static_shared_variables_.clear();
  static_shared_bytes_ = 0;
}

// Like a GPU's, dynamic shared memory starts with garbage: a NaN pattern (0xFF bytes) in every block.
void BlockRunner::prepare_dynamic_shared(const GridLaunch& launch) {
  const size_t elements = (launch.dynamic_shared_bytes + sizeof(double2) - 1) / sizeof(double2);
  if (dynamic_shared_.size() < elements) dynamic_shared_.resize(elements);
  std::memset(static_cast<void*>(dynamic_shared_.data()), 0xFF, elements * sizeof(double2));
  current_dynamic_shared = dynamic_shared_.data();
}

void* BlockRunner::static_shared(const void* declaration, size_t bytes, size_t alignment) {
  char* arena = reinterpret_cast<char*>(static_shared_.data());
  for (const StaticSharedVariable& variable : static_shared_variables_) {
    if (variable.declaration == declaration) return arena + variable.offset;
  }
  if (alignment > alignof(double2)) fail_current_thread("a static shared variable aligned to more than 16 bytes");
  const size_t offset = (static_shared_bytes_ + alignment - 1) / alignment * alignment;
  const size_t static_bytes = offset + bytes;
  const size_t dynamic_bytes = launch_->dynamic_shared_bytes;
  if (static_bytes > kSharedMemPerBlock || static_bytes + dynamic_bytes > launch_->shared_limit) {
    std::ostringstream message;
    message << "shared memory over the block's limit: " << static_bytes << " bytes of static shared memory (with the "
            << bytes << "-byte variable just declared) + " << dynamic_bytes << " bytes of dynamic shared memory; "
            << "static shared memory may take " << kSharedMemPerBlock << " bytes, static + dynamic "
            << launch_->shared_limit << " bytes for this kernel (48 KiB, or 227 KiB once it opted in with "
            << "cudaFuncAttributeMaxDynamicSharedMemorySize)";
    fail_current_thread(message.str());
  }
  static_shared_variables_.push_back({declaration, offset});
  static_shared_bytes_ = static_bytes;
  std::memset(arena + offset, 0xFF, bytes);
  return arena + offset;
}

void BlockRunner::fail_current_thread(const std::string& message) {
  CudaThread& self = *current_;
  if (failure_.empty()) failure_ = "thread " + describe(self.index) + ": " + message;
  self.state = ThreadState::Done;
  switch_context(self.context, scheduler_, /*finished=*/true);
  __builtin_unreachable();
}

void BlockRunner::sweep() {
  const auto count = static_cast<unsigned>(threads_.size());
  order_.resize(count);
  switch (launch_->order) {
    case ThreadOrder::Sequential:
      std::iota(order_.begin(), order_.end(), 0u);
      break;
    case ThreadOrder::Reversed:
      std::iota(order_.rbegin(), order_.rend(), 0u);
      break;
    case ThreadOrder::Random:
      std::iota(order_.begin(), order_.end(), 0u);
      for (unsigned i = count; i > 1; --i) std::swap(order_[i - 1], order_[splitmix64(rng_) % i]);
      break;
  }
  for (unsigned i : order_) {
    if (threads_[i].state != ThreadState::Ready) continue;
    resume(threads_[i]);
    if (!failure_.empty()) return;
  }
}

// A thread gets a stack when it first runs and gives it back when it finishes: a kernel without
// barriers runs all its threads on one stack, hot in cache.
void BlockRunner::resume(CudaThread& thread) {
  if (thread.stack == kNoStack) {
    if (free_stacks_.empty()) {
      free_stacks_.push_back(static_cast<unsigned>(stacks_.size()));
      stacks_.emplace_back(stacks_.size());
    }
    thread.stack = free_stacks_.back();
    free_stacks_.pop_back();
    prepare_context(thread.context, stacks_[thread.stack], &thread_main, &thread);
  }
  current_ = &thread;
  threadIdx = thread.index;
  switch_context(scheduler_, thread.context);
  current_ = nullptr;
  switch (thread.state) {
    case ThreadState::AtBarrier: ++at_barrier_; break;
    case ThreadState::AtWarpOp: ++at_warp_op_; break;
    case ThreadState::Done:
      ++done_;
      free_stacks_.push_back(thread.stack);
      break;
    case ThreadState::Ready: break;
  }
}

unsigned BlockRunner::live_lanes(unsigned warp) const {
  const size_t first = size_t{warp} * warpSize;
  const size_t lanes = std::min<size_t>(warpSize, threads_.size() - first);
  unsigned live = 0;
  for (size_t lane = 0; lane < lanes; ++lane) {
    if (threads_[first + lane].state != ThreadState::Done) live |= 1u << lane;
  }
  return live;
}

unsigned BlockRunner::group_of(unsigned warp, unsigned lane, unsigned live) const {
  return (threads_[warp * warpSize + lane].mask | (1u << lane)) & live;
}

bool BlockRunner::group_complete(unsigned warp, unsigned group, unsigned live) const {
  const CudaThread* lanes = &threads_[size_t{warp} * warpSize];
  const WarpOp op = lanes[__builtin_ctz(group)].op;
  for (unsigned rest = group; rest != 0; rest &= rest - 1) {
    const unsigned lane = static_cast<unsigned>(__builtin_ctz(rest));
    if (lanes[lane].state != ThreadState::AtWarpOp || lanes[lane].op != op) return false;
    if (group_of(warp, lane, live) != group) return false;
  }
  return true;
}

bool BlockRunner::release_warp_groups() {
  if (at_warp_op_ == 0) return false;
  bool released = false;
  const auto warps = static_cast<unsigned>((threads_.size() + warpSize - 1) / warpSize);
  for (unsigned warp = 0; warp < warps; ++warp) {
    const unsigned live = live_lanes(warp);
    unsigned waiting = 0;
    unsigned at_active_mask = 0;
    for (unsigned rest = live; rest != 0; rest &= rest - 1) {
      const unsigned lane = static_cast<unsigned>(__builtin_ctz(rest));
      const CudaThread& thread = threads_[warp * warpSize + lane];
      if (thread.state != ThreadState::AtWarpOp) continue;
      (thread.op == WarpOp::ActiveMask ? at_active_mask : waiting) |= 1u << lane;
    }
    // Every thread of the block is suspended now: the lanes at __activemask are the ones that
    // reached it together.
    if (at_active_mask != 0) {
      complete_warp_op(warp, at_active_mask);
      released = true;
    }
    while (waiting != 0) {
      const auto lane = static_cast<unsigned>(__builtin_ctz(waiting));
      const unsigned group = group_of(warp, lane, live);
      if (group_complete(warp, group, live)) {
        complete_warp_op(warp, group);
        released = true;
        waiting &= ~group;
      } else {
        waiting &= ~(1u << lane);
      }
    }
  }
  return released;
}

// A shuffle may read its own value (a source out of its segment, as CUDA defines) or a lane of
// its group; any other lane's value is undefined on a GPU, and fails the launch here.
void BlockRunner::complete_warp_op(unsigned warp, unsigned group) {
  CudaThread* lanes = &threads_[size_t{warp} * warpSize];
  const WarpOp op = lanes[__builtin_ctz(group)].op;
  if (op == WarpOp::Shuffle) {
    for (unsigned rest = group; rest != 0; rest &= rest - 1) {
      const CudaThread& thread = lanes[__builtin_ctz(rest)];
      if (thread.source_lane >= 0 && (group >> thread.source_lane & 1u) == 0) {
        if (failure_.empty()) failure_ = bad_shuffle_report(thread, group, live_lanes(warp));
        return;
      }
    }
  }
  unsigned ballot = 0;
  for (unsigned rest = group; rest != 0; rest &= rest - 1) {
    const int lane = __builtin_ctz(rest);
    if (lanes[lane].value != 0) ballot |= 1u << lane;
  }
  for (unsigned rest = group; rest != 0; rest &= rest - 1) {
    CudaThread& thread = lanes[__builtin_ctz(rest)];
    switch (op) {
      case WarpOp::Shuffle:
        thread.result = thread.source_lane >= 0 ? lanes[thread.source_lane].value : thread.value;
        break;
      case WarpOp::Ballot: thread.result = ballot; break;
      case WarpOp::Any: thread.result = ballot != 0; break;
      case WarpOp::All: thread.result = ballot == group; break;
      case WarpOp::Sync: thread.result = 0; break;
      case WarpOp::ActiveMask: thread.result = group; break;
    }
    thread.state = ThreadState::Ready;
    --at_warp_op_;
  }
}

void BlockRunner::release_barrier() {
  for (CudaThread& thread : threads_) {
    if (thread.state == ThreadState::AtBarrier) thread.state = ThreadState::Ready;
  }
  at_barrier_ = 0;
}

std::string BlockRunner::deadlock_report() const {
  std::ostringstream report;
  report << "deadlock: " << at_barrier_ << " thread(s) wait at __syncthreads and " << at_warp_op_
         << " at warp-level operations that cannot complete (a lane of the mask waits at __syncthreads or at "
            "another warp operation)";
  for (size_t i = 0; i < threads_.size(); ++i) {
    const CudaThread& thread = threads_[i];
    if (thread.state != ThreadState::AtWarpOp) continue;
    const auto warp = static_cast<unsigned>(i / warpSize);
    report << "; first stuck: thread " << describe(thread.index) << " (warp " << warp << ", lane " << i % warpSize
           << ") waits with mask 0x" << std::hex << thread.mask << " while the warp's running lanes are 0x"
           << live_lanes(warp);
    break;
  }
  return report.str();
}

std::string BlockRunner::bad_shuffle_report(const CudaThread& thread, unsigned group, unsigned live) const {
  const size_t index = static_cast<size_t>(&thread - threads_.data());
  const unsigned warp = static_cast<unsigned>(index / warpSize);
  const size_t warp_lanes = std::min<size_t>(warpSize, threads_.size() - size_t{warp} * warpSize);
  const auto source = static_cast<unsigned>(thread.source_lane);
  std::ostringstream report;
  report << "thread " << describe(thread.index) << " (warp " << warp << ", lane " << index % warpSize
         << ") shuffles from lane " << source << ", which ";
  if (source >= warp_lanes) {
    report << "does not exist (the warp has " << warp_lanes << " lanes)";
  } else if ((live >> source & 1u) == 0) {
    report << "has exited";
  } else {
    report << "is not in the shuffle's group (mask 0x" << std::hex << thread.mask << ", lanes taking part 0x"
           << group << ")";
  }
  report << ": the value read is undefined on a GPU";
  return report.str();
}

}  // namespace

std::string run_block(const GridLaunch& launch, uint64_t linear_block) {
  thread_local BlockRunner runner;
  return runner.run(launch, linear_block);
}

void sync_block() { runner_in_kernel("__syncthreads").suspend(ThreadState::AtBarrier); }

bool in_kernel_thread() { return active_runner && active_runner->in_kernel(); }

void* static_shared(const void* declaration, size_t bytes, size_t alignment) {
  return runner_in_kernel("static shared memory").static_shared(declaration, bytes, alignment);
}

void fail_kernel_thread(const std::string& message) { runner_in_kernel("a device-side check").fail_current_thread(message); }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value) {
  return runner_in_kernel("a warp-level operation").wait_at_warp_op(op, mask, value, -1);
}

uint64_t warp_shuffle(unsigned mask, uint64_t value, ShuffleMode mode, int operand, int width) {
  BlockRunner& runner = runner_in_kernel("a warp shuffle");
  const int source = shuffle_source(static_cast<int>(runner.current_lane()), mode, operand, width);
  return runner.wait_at_warp_op(WarpOp::Shuffle, mask, value, source);
}


}  // namespace detail
}  // namespace fersim
