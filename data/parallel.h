// parallel_for(n, threads, fn): calls fn(i) for i in [0, n) on up to `threads` std::threads
// (0: hardware concurrency). Items are taken from a shared counter one at a time, so uneven
// items (a large JPEG next to a small PNG) balance; fn must not depend on the order. The first
// exception thrown by fn is rethrown on the calling thread after every thread has stopped.
// std::thread rather than OpenMP so that the clang fuzz builds need no OpenMP runtime.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fer::data {

template <typename Fn>
void parallel_for(int64_t n, int threads, Fn&& fn) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, n));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t i = next++; i < n && !failed; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace fer::data
