// The intra-class loss with RDBP: reference and optimized CPU versions (see rdbp.h for the math).
//
// Both versions run the same loop nests: the forward over a range of feature columns, the
// backward over a range of rows. The reference runs the whole range on one thread; the CPU path
// hands disjoint column (row) ranges to OpenMP threads, which is safe because every output
// element belongs to exactly one column (row). Sums and the loss accumulate in double.
#include "kernels/rdbp/rdbp.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/error.h"

namespace fer {

namespace {

// Below this many feature elements one thread is faster than waking the pool.
constexpr int64_t kParallelElements = 1 << 16;

int64_t class_of(float label, int64_t num_classes, const char* what, int64_t row) {
  FER_CHECK(std::isfinite(label) && label == std::floor(label) && label >= 0 && label < num_classes)
      << "intra_class_loss: " << what << " label " << label << " at position " << row
      << " is not a class index in [0, " << num_classes << ")";
  return static_cast<int64_t>(label);
}

// Which classes have a center, from how many samples, and how many terms the loss has.
struct ClassPlan {
  std::vector<int64_t> real_count, synth_count;
  std::vector<bool> has_center, uses_running;
  int64_t terms = 0;
};

template <typename T>
ClassPlan plan_classes(const RdbpShape& s, const float* real_labels, const float* synth_labels,
                       const T* seen) {
  const auto K = static_cast<size_t>(s.num_classes);
  ClassPlan plan{std::vector<int64_t>(K, 0), std::vector<int64_t>(K, 0), std::vector<bool>(K, false),
                 std::vector<bool>(K, false), 0};
  for (int64_t i = 0; i < s.num_real; ++i) ++plan.real_count[class_of(real_labels[i], s.num_classes, "real", i)];
  for (int64_t j = 0; j < s.num_synth; ++j)
    ++plan.synth_count[class_of(synth_labels[j], s.num_classes, "synthetic", j)];
  for (size_t k = 0; k < K; ++k) {
    if (s.mode == RdbpMode::Naive) {
      plan.has_center[k] = plan.real_count[k] + plan.synth_count[k] > 0;
    } else {
      plan.uses_running[k] = plan.real_count[k] == 0 && seen[k] > 0;
      plan.has_center[k] = plan.real_count[k] > 0 || plan.uses_running[k];
    }
    if (plan.has_center[k]) plan.terms += plan.real_count[k] + plan.synth_count[k];
  }
  return plan;
}

// sums[k * width + (d - d0)] += rows[i, d] for each row i of class labels[i], d in [d0, d1).
template <typename T>
void add_class_sums(const T* rows, const float* labels, int64_t n, int64_t dim, int64_t d0, int64_t d1,
                    std::vector<double>& sums) {
  const int64_t width = d1 - d0;
  for (int64_t i = 0; i < n; ++i) {
    double* dst = sums.data() + static_cast<int64_t>(labels[i]) * width;
    const T* src = rows + i * dim;
    for (int64_t d = d0; d < d1; ++d) dst[d - d0] += src[d];
  }
}

// sum over rows with a centered class of sum_{d in [d0, d1)} (rows[i, d] - centers[y_i, d])^2.
template <typename T>
double squared_distances(const T* rows, const float* labels, int64_t n, int64_t dim, int64_t d0, int64_t d1,
                         const T* centers, const ClassPlan& plan) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<int64_t>(labels[i]);
    if (!plan.has_center[k]) continue;
    for (int64_t d = d0; d < d1; ++d) {
      const double diff = static_cast<double>(rows[i * dim + d]) - centers[k * dim + d];
      total += diff * diff;
    }
  }
  return total;
}

// Centers, running centers and the unscaled loss of the columns [d0, d1). `seen` is read only:
// it is updated once for all columns by finish_forward.
template <typename T>
double forward_columns(const RdbpShape& s, const ClassPlan& plan, const T* real, const float* real_labels,
                       const T* synth, const float* synth_labels, T* running, const T* seen, T* centers,
                       int64_t d0, int64_t d1) {
  const int64_t width = d1 - d0;
  const bool naive = s.mode == RdbpMode::Naive;
  std::vector<double> real_sum(static_cast<size_t>(s.num_classes * width), 0.0);
  std::vector<double> synth_sum(real_sum.size(), 0.0);
  add_class_sums(real, real_labels, s.num_real, s.dim, d0, d1, real_sum);
  if (naive) add_class_sums(synth, synth_labels, s.num_synth, s.dim, d0, d1, synth_sum);
  for (int64_t k = 0; k < s.num_classes; ++k) {
    const auto members = static_cast<double>(plan.real_count[k] + (naive ? plan.synth_count[k] : 0));
    for (int64_t d = d0; d < d1; ++d) {
      const auto at = static_cast<size_t>(k * width + d - d0);
      T& center = centers[k * s.dim + d];
      if (plan.uses_running[k]) {
        center = running[k * s.dim + d];
      } else {
        center = members > 0 ? static_cast<T>((real_sum[at] + synth_sum[at]) / members) : T(0);
      }
    }
  }
  const double loss = squared_distances(real, real_labels, s.num_real, s.dim, d0, d1, centers, plan) +
                      squared_distances(synth, synth_labels, s.num_synth, s.dim, d0, d1, centers, plan);
  if (!s.update_running) return loss;
  for (int64_t k = 0; k < s.num_classes; ++k) {
    if (plan.real_count[k] == 0) continue;
    const double first = seen[k] > 0 ? 1.0 - s.momentum : 0.0;  // first sighting: take the batch mean
    for (int64_t d = d0; d < d1; ++d) {
      const double batch_mean = real_sum[static_cast<size_t>(k * width + d - d0)] / plan.real_count[k];
      T& r = running[k * s.dim + d];
      r = static_cast<T>(first * r + (1.0 - first) * batch_mean);
    }
  }
  return loss;
}

// The per-class and scalar outputs, once all columns are done.
template <typename T>
void finish_forward(const RdbpShape& s, const ClassPlan& plan, double squared_sum, T* seen, T* has_center,
                    T* loss, T* term_count) {
  for (int64_t k = 0; k < s.num_classes; ++k) {
    has_center[k] = plan.has_center[k] ? T(1) : T(0);
    if (s.update_running) seen[k] += static_cast<T>(plan.real_count[k]);
  }
  *term_count = static_cast<T>(plan.terms);
  *loss = plan.terms > 0 ? static_cast<T>(squared_sum / (2.0 * plan.terms)) : T(0);
}

// grad[i] = scale (rows[i] - c_{y_i}) for the rows [r0, r1); 0 where the class has no center.
template <typename T>
void backward_rows(const T* rows, const float* labels, int64_t dim, const T* centers, const T* has_center,
                   T scale, T* grad, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) {
    const auto k = static_cast<int64_t>(labels[i]);
    const bool centered = has_center[k] != T(0);
    for (int64_t d = 0; d < dim; ++d)
      grad[i * dim + d] = centered ? scale * (rows[i * dim + d] - centers[k * dim + d]) : T(0);
  }
}

template <typename T>
T gradient_scale(const T* term_count, const T* grad_loss) {
  return *term_count > 0 ? *grad_loss / *term_count : T(0);
}

bool worth_threads(int64_t elements) { return elements >= kParallelElements && omp_get_max_threads() > 1; }

}  // namespace

template <typename T>
void rdbp_forward_ref(const RdbpShape& shape, const T* real, const float* real_labels, const T* synth,
                      const float* synth_labels, T* running_centers, T* seen, T* centers, T* has_center,
                      T* loss, T* term_count) {
  const ClassPlan plan = plan_classes(shape, real_labels, synth_labels, seen);
  const double squared_sum = forward_columns(shape, plan, real, real_labels, synth, synth_labels,
                                             running_centers, seen, centers, 0, shape.dim);
  finish_forward(shape, plan, squared_sum, seen, has_center, loss, term_count);
}

template <typename T>
void rdbp_backward_ref(const RdbpShape& shape, const T* real, const float* real_labels, const T* synth,
                       const float* synth_labels, const T* centers, const T* has_center, const T* term_count,
                       const T* grad_loss, T* grad_real, T* grad_synth) {
  const T scale = gradient_scale(term_count, grad_loss);
  if (grad_real)
    backward_rows(real, real_labels, shape.dim, centers, has_center, scale, grad_real, 0, shape.num_real);
  if (grad_synth)
    backward_rows(synth, synth_labels, shape.dim, centers, has_center, scale, grad_synth, 0, shape.num_synth);
}

template void rdbp_forward_ref<float>(const RdbpShape&, const float*, const float*, const float*, const float*,
                                      float*, float*, float*, float*, float*, float*);
template void rdbp_forward_ref<double>(const RdbpShape&, const double*, const float*, const double*,
                                       const float*, double*, double*, double*, double*, double*, double*);
template void rdbp_backward_ref<float>(const RdbpShape&, const float*, const float*, const float*, const float*,
                                       const float*, const float*, const float*, const float*, float*, float*);
template void rdbp_backward_ref<double>(const RdbpShape&, const double*, const float*, const double*,
                                        const float*, const double*, const double*, const double*,
                                        const double*, double*, double*);

void rdbp_forward_cpu(const RdbpShape& shape, const float* real, const float* real_labels, const float* synth,
                      const float* synth_labels, float* running_centers, float* seen, float* centers,
                      float* has_center, float* loss, float* term_count) {
  const ClassPlan plan = plan_classes(shape, real_labels, synth_labels, seen);
  const int64_t elements = (shape.num_real + shape.num_synth) * shape.dim;
  const int threads = worth_threads(elements) ? omp_get_max_threads() : 1;
  // Column blocks of at least 16 floats (one cache line) so threads do not share lines.
  const int64_t block = std::max<int64_t>(16, (shape.dim + threads - 1) / threads);
  double squared_sum = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : squared_sum) schedule(static)
  for (int64_t d0 = 0; d0 < shape.dim; d0 += block) {
    squared_sum += forward_columns(shape, plan, real, real_labels, synth, synth_labels, running_centers, seen,
                                   centers, d0, std::min(shape.dim, d0 + block));
  }
  finish_forward(shape, plan, squared_sum, seen, has_center, loss, term_count);
}

void rdbp_backward_cpu(const RdbpShape& shape, const float* real, const float* real_labels, const float* synth,
                       const float* synth_labels, const float* centers, const float* has_center,
                       const float* term_count, const float* grad_loss, float* grad_real, float* grad_synth) {
  const float scale = gradient_scale(term_count, grad_loss);
  const int64_t rows = shape.num_real + shape.num_synth;
  const int threads = worth_threads(rows * shape.dim) ? omp_get_max_threads() : 1;
  // One index space over real rows then synthetic rows, so both halves share the threads.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    if (r < shape.num_real) {
      if (grad_real) backward_rows(real, real_labels, shape.dim, centers, has_center, scale, grad_real, r, r + 1);
    } else if (grad_synth) {
      const int64_t j = r - shape.num_real;
      backward_rows(synth, synth_labels, shape.dim, centers, has_center, scale, grad_synth, j, j + 1);
    }
  }
}

}  // namespace fer
