// Launches: CUDA's configuration checks, then the blocks of the grid, on the launching thread or
// on a pool of worker threads that take blocks from a shared counter (set_worker_threads), then
// the check that no allocation's guard was overwritten.
// Also the simulator's settings (thread order, workers) and cudaFuncSetAttribute.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernels/sim/internal.h"

namespace fersim {
namespace detail {
namespace {

struct Settings {
  std::atomic<ThreadOrder> order{ThreadOrder::Sequential};
  std::atomic<uint64_t> seed{0};
  std::atomic<uint64_t> launches{0};  // reset by set_thread_order, so that Random is reproducible
};
Settings& settings() {
  static Settings instance;
  return instance;
}

// Per kernel: the dynamic shared memory it opted in to (cudaFuncAttributeMaxDynamicSharedMemorySize).
struct FunctionAttributes {
  std::mutex mutex;
  std::map<const void*, size_t> max_dynamic_shared;
};
FunctionAttributes& function_attributes() {
  static FunctionAttributes instance;
  return instance;
}

size_t max_dynamic_shared(const void* kernel) {
  FunctionAttributes& attributes = function_attributes();
  std::lock_guard lock(attributes.mutex);
  const auto it = attributes.max_dynamic_shared.find(kernel);
  return it == attributes.max_dynamic_shared.end() ? kSharedMemPerBlock : it->second;
}

// Static + dynamic shared memory a block of `kernel` may take: a kernel that opted in to more
// dynamic shared memory may use up to the device's opt-in limit in all.
size_t shared_memory_limit(const void* kernel) {
  FunctionAttributes& attributes = function_attributes();
  std::lock_guard lock(attributes.mutex);
  return attributes.max_dynamic_shared.contains(kernel) ? kSharedMemPerBlockOptin : kSharedMemPerBlock;
}

cudaError_t check_configuration(const void* kernel, dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                                cudaStream_t stream) {
  const unsigned block_dims[3] = {block.x, block.y, block.z};
  const unsigned grid_dims[3] = {grid.x, grid.y, grid.z};
  for (int d = 0; d < 3; ++d) {
    if (block_dims[d] == 0 || block_dims[d] > kMaxBlockDim[d]) return cudaErrorInvalidConfiguration;
    if (grid_dims[d] == 0 || grid_dims[d] > kMaxGridDim[d]) return cudaErrorInvalidConfiguration;
  }
  if (uint64_t{block.x} * block.y * block.z > kMaxThreadsPerBlock) return cudaErrorInvalidConfiguration;
  if (dynamic_shared_bytes > max_dynamic_shared(kernel)) return cudaErrorInvalidValue;
  if (!is_known_stream(stream)) return cudaErrorInvalidResourceHandle;
  return cudaSuccess;
}

thread_local std::string last_failure;

// Worker threads besides the launching one. Each grid is shared out block by block.
class WorkerPool {
 public:
  ~WorkerPool() { resize(0); }

  void resize(size_t workers) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    stop_ = false;
    // A new worker waits for the next grid, not the last one.
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this, seen = generation_] { work(seen); });
  }

  // Runs the whole grid; returns the first failure, or an empty string.
  std::string run(const GridLaunch& launch) {
    {
      std::lock_guard lock(mutex_);
      launch_ = &launch;
      next_block_ = 0;
      failure_.clear();
      failed_ = false;
      busy_ = threads_.size();
      ++generation_;
    }
    wake_.notify_all();
    run_blocks(launch);
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [this] { return busy_ == 0; });
    launch_ = nullptr;
    return failure_;
  }

  size_t size() const { return threads_.size(); }

 private:
  void work(uint64_t seen) {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      const GridLaunch& launch = *launch_;
      lock.unlock();
      run_blocks(launch);
      lock.lock();
      if (--busy_ == 0) finished_.notify_one();
    }
  }

  void run_blocks(const GridLaunch& launch) {
    while (!failed_) {
      const uint64_t block = next_block_++;
      if (block >= launch.block_count()) return;
      std::string failure = run_block(launch, block);
      if (failure.empty()) continue;
      std::lock_guard lock(mutex_);
      if (!failed_) failure_ = std::move(failure);
      failed_ = true;
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  size_t busy_ = 0;
  const GridLaunch* launch_ = nullptr;
  std::atomic<uint64_t> next_block_{0};
  std::atomic<bool> failed_{false};
  std::string failure_;
};

// One grid at a time goes through the pool; with no workers, launches from different host
// threads run side by side, each on its own thread.
struct Pool {
  std::mutex launch_mutex;
  WorkerPool workers;
};
Pool& pool() {
  static Pool instance;
  return instance;
}

std::string run_grid(const GridLaunch& launch) {
  Pool& p = pool();
  std::unique_lock lock(p.launch_mutex);
  if (p.workers.size() > 0 && launch.block_count() > 1) return p.workers.run(launch);
  lock.unlock();
  for (uint64_t block = 0; block < launch.block_count(); ++block) {
    std::string failure = run_block(launch, block);
    if (!failure.empty()) return failure;
  }
  return {};
}

}  // namespace

void launch_grid(const void* kernel_key, dim3 grid, dim3 block, size_t dynamic_shared_bytes, cudaStream_t stream,
                 KernelBody body) {
  const cudaError_t invalid = check_configuration(kernel_key, grid, block, dynamic_shared_bytes, stream);
  if (invalid != cudaSuccess) {
    record_error(invalid);
    return;
  }
  Settings& s = settings();
  const uint64_t index = s.launches++;
  const GridLaunch launch{grid,
                          block,
                          dynamic_shared_bytes,
                          shared_memory_limit(kernel_key),
                          body,
                          s.order.load(),
                          s.seed.load() + index * 0x2545f4914f6cdd1dull};
  std::string failure = run_grid(launch);
  if (failure.empty()) failure = overwritten_guard();
  if (!failure.empty()) {
    std::fprintf(stderr, "fersim: kernel launch failed: %s\n", failure.c_str());
    last_failure = std::move(failure);
    record_error(cudaErrorLaunchFailure);
  }
}

}  // namespace detail

void set_thread_order(ThreadOrder order, uint64_t seed) {
  detail::Settings& s = detail::settings();
  s.order = order;
  s.seed = seed;
  s.launches = 0;
}

ThreadOrder thread_order() { return detail::settings().order.load(); }

const std::string& last_launch_failure() { return detail::last_failure; }

void set_worker_threads(int count) {
  detail::Pool& p = detail::pool();
  std::lock_guard lock(p.launch_mutex);
  p.workers.resize(static_cast<size_t>(std::max(count, 1) - 1));
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (func == nullptr || value < 0) return detail::record_error(cudaErrorInvalidValue);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {
    // Only a hint on a GPU; nothing to emulate.
    return value <= 100 ? cudaSuccess : detail::record_error(cudaErrorInvalidValue);
  }
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || static_cast<size_t>(value) > detail::kSharedMemPerBlockOptin) {
    return detail::record_error(cudaErrorInvalidValue);
  }
  detail::FunctionAttributes& attributes = detail::function_attributes();
  std::lock_guard lock(attributes.mutex);
  attributes.max_dynamic_shared[func] = static_cast<size_t>(value);
  return cudaSuccess;
}

}  // namespace fersim
