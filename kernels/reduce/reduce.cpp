// Sum over axes: reference and OpenMP CPU path (see reduce.h for the layout). The merged full
// shape is split into kept and summed axes (reduce_plan.h); one output is then a strided walk
// over its terms.
#include <omp.h>

#include <vector>

#include "kernels/elementwise/parallel.h"
#include "kernels/reduce/reduce.h"
#include "kernels/reduce/reduce_plan.h"

namespace fer {

namespace {

// Four independent accumulators: the additions overlap in the pipeline (a single chain of
// dependent double adds would bound the loop by their latency, not by memory).
template <typename T>
double sum_run(const T* p, int64_t step, int64_t n) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += p[i * step];
    a1 += p[(i + 1) * step];
    a2 += p[(i + 2) * step];
    a3 += p[(i + 3) * step];
  }
  for (; i < n; ++i) a0 += p[i * step];
  return (a0 + a1) + (a2 + a3);
}

template <typename T>
double sum_terms(const ReducePlan& plan, const T* x, int64_t base, int64_t begin, int64_t end) {
  const int64_t step = plan.summed.strides[0][plan.summed.ndim - 1];
  double acc = 0;
  for_each_run(plan.summed, begin, end,
               [&](int64_t, const int64_t* at, int64_t run) { acc += sum_run(x + base + at[0], step, run); });
  return acc;
}

template <typename T>
void sum_outputs(const ReducePlan& plan, double scale, const T* x, T* y, int64_t begin, int64_t end) {
  const int64_t step = plan.kept.strides[0][plan.kept.ndim - 1];
  for_each_run(plan.kept, begin, end, [&](int64_t o, const int64_t* at, int64_t run) {
    for (int64_t r = 0; r < run; ++r)
      y[o + r] = static_cast<T>(scale * sum_terms(plan, x, at[0] + r * step, 0, plan.summed.numel));
  });
}

template <typename T>
void broadcast_back(const StridedShape<1>& shape, double scale, const T* grad_y, T* grad_x, int64_t begin,
                    int64_t end) {
  const T s = static_cast<T>(scale);
  const int64_t step = shape.strides[0][shape.ndim - 1];
  for_each_run(shape, begin, end, [&](int64_t i, const int64_t* at, int64_t run) {
    for (int64_t r = 0; r < run; ++r) grad_x[i + r] = s * grad_y[at[0] + r * step];
  });
}

// Few outputs with many terms each: the terms of each output are split over the threads.
void sum_few_outputs_cpu(const ReducePlan& plan, double scale, const float* x, float* y) {
  std::vector<double> partial(static_cast<size_t>(omp_get_max_threads()));
  const int64_t step = plan.kept.strides[0][plan.kept.ndim - 1];
  for_each_run(plan.kept, 0, plan.kept.numel, [&](int64_t o, const int64_t* at, int64_t run) {
    for (int64_t r = 0; r < run; ++r) {
      std::fill(partial.begin(), partial.end(), 0.0);
      parallel_ranges(plan.summed.numel, kElementwiseGrain, [&](int64_t b, int64_t e) {
        partial[static_cast<size_t>(omp_get_thread_num())] = sum_terms(plan, x, at[0] + r * step, b, e);
      });
      double total = 0;
      for (double p : partial) total += p;
      y[o + r] = static_cast<float>(scale * total);
    }
  });
}

}  // namespace

template <typename T>
void sum_forward_ref(const StridedShape<1>& shape, double scale, const T* x, T* y) {
  const ReducePlan plan = make_reduce_plan(shape);
  sum_outputs(plan, scale, x, y, 0, plan.kept.numel);
}

void sum_forward_cpu(const StridedShape<1>& shape, double scale, const float* x, float* y) {
  const ReducePlan plan = make_reduce_plan(shape);
  const int64_t outputs = plan.kept.numel;
  const int64_t terms = plan.summed.numel;
  if (outputs < omp_get_max_threads() && terms >= 2 * kElementwiseGrain) {
    sum_few_outputs_cpu(plan, scale, x, y);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(terms, 1));
  parallel_ranges(outputs, grain, [&](int64_t b, int64_t e) { sum_outputs(plan, scale, x, y, b, e); });
}

template <typename T>
void sum_backward_ref(const StridedShape<1>& shape, double scale, const T* grad_y, T* grad_x) {
  broadcast_back(shape, scale, grad_y, grad_x, 0, shape.numel);
}

void sum_backward_cpu(const StridedShape<1>& shape, double scale, const float* grad_y, float* grad_x) {
  parallel_ranges(shape.numel, kElementwiseGrain,
                  [&](int64_t b, int64_t e) { broadcast_back(shape, scale, grad_y, grad_x, b, e); });
}

template void sum_forward_ref<float>(const StridedShape<1>&, double, const float*, float*);
template void sum_forward_ref<double>(const StridedShape<1>&, double, const double*, double*);
template void sum_backward_ref<float>(const StridedShape<1>&, double, const float*, float*);
template void sum_backward_ref<double>(const StridedShape<1>&, double, const double*, double*);

}  // namespace fer
