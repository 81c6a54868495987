// parallel_ranges(n, grain, f): calls f(begin, end) on contiguous ranges covering [0, n), one
// range per OpenMP thread, with at least `grain` elements per thread, so that small tensors run
// on the calling thread without the cost of waking a team.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace fer {

// Below this many elements per thread, a memory-bound loop does not repay the thread start-up.
constexpr int64_t kElementwiseGrain = 1 << 15;

// Whether a memory-bound loop over `elements` elements is worth an OpenMP team: each of at least
// two threads gets a grain. (Used by the kernels whose loops split over planes or channels.)
inline bool worth_threads(int64_t elements) { return elements >= 2 * kElementwiseGrain; }

template <typename F>
void parallel_ranges(int64_t n, int64_t grain, F&& f) {
  const int64_t threads = std::min<int64_t>(omp_get_max_threads(), n / std::max<int64_t>(grain, 1));
  if (threads <= 1) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t team = omp_get_num_threads();
    f(n * t / team, n * (t + 1) / team);
  }
}

}  // namespace fer
