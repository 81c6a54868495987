// Losses on the CPU: the reference (_ref<T>) and the OpenMP path (_cpu). See loss.h for the
// layouts, the formulas and what the backward writes.
#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/loss/loss.h"

namespace fer {

namespace {

// ---- cross-entropy --------------------------------------------------------------------------

template <typename T>
double row_logsumexp(const T* row, int64_t classes) {
  double max = row[0];
  for (int64_t k = 1; k < classes; ++k) max = std::max(max, static_cast<double>(row[k]));
  double sum = 0;
  for (int64_t k = 0; k < classes; ++k) sum += std::exp(row[k] - max);
  return max + std::log(sum);
}

template <typename T>
void cross_entropy_forward_impl(const T* logits, const float* labels, T* loss, const ClassLossShape& s,
                                bool parallel) {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (parallel)
  for (int64_t i = 0; i < s.batch; ++i) {
    const T* row = logits + i * s.classes;
    sum += row_logsumexp(row, s.classes) - row[static_cast<int64_t>(labels[i])];
  }
  *loss = static_cast<T>(sum / static_cast<double>(s.batch));
}

template <typename T>
void cross_entropy_backward_impl(const T* logits, const float* labels, const T* dloss, T* dlogits,
                                 const ClassLossShape& s, bool parallel) {
  const double scale = *dloss / static_cast<double>(s.batch);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < s.batch; ++i) {
    const T* row = logits + i * s.classes;
    const double lse = row_logsumexp(row, s.classes);
    const int64_t label = static_cast<int64_t>(labels[i]);
    for (int64_t k = 0; k < s.classes; ++k) {
      const double target = k == label ? 1.0 : 0.0;
      dlogits[i * s.classes + k] = static_cast<T>(scale * (std::exp(row[k] - lse) - target));
    }
  }
}

// ---- pointwise losses: mean of term(a, b); each Term gives value() and grad() = (d/da, d/db) ---

struct BceTerm {
  static double value(double x, double t) { return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x))); }
  static std::pair<double, double> grad(double x, double t) {
    // sigmoid without overflow on either side
    const double e = std::exp(-std::fabs(x));
    const double sigmoid = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    return {sigmoid - t, -x};
  }
};

struct L1Term {
  static double value(double a, double b) { return std::fabs(a - b); }
  static std::pair<double, double> grad(double a, double b) {
    const double sign = a > b ? 1.0 : (a < b ? -1.0 : 0.0);
    return {sign, -sign};
  }
};

struct MseTerm {
  static double value(double a, double b) { return (a - b) * (a - b); }
  static std::pair<double, double> grad(double a, double b) { return {2 * (a - b), -2 * (a - b)}; }
};

template <typename Term, typename T>
void pointwise_forward(const T* a, const T* b, T* loss, int64_t count, bool parallel) {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (parallel)
  for (int64_t i = 0; i < count; ++i) sum += Term::value(a[i], b[i]);
  *loss = static_cast<T>(sum / static_cast<double>(count));
}

template <typename Term, typename T>
void pointwise_backward(const T* a, const T* b, const T* dloss, T* da, T* db, int64_t count, bool parallel) {
  const double scale = *dloss / static_cast<double>(count);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < count; ++i) {
    const auto [ga, gb] = Term::grad(a[i], b[i]);
    if (da) da[i] = static_cast<T>(scale * ga);
    if (db) db[i] = static_cast<T>(scale * gb);
  }
}

}  // namespace

template <typename T>
void cross_entropy_forward_ref(const T* logits, const float* labels, T* loss, const ClassLossShape& shape) {
  cross_entropy_forward_impl(logits, labels, loss, shape, false);
}
void cross_entropy_forward_cpu(const float* logits, const float* labels, float* loss, const ClassLossShape& shape) {
  cross_entropy_forward_impl(logits, labels, loss, shape, true);
}
template <typename T>
void cross_entropy_backward_ref(const T* logits, const float* labels, const T* dloss, T* dlogits,
                                const ClassLossShape& shape) {
  cross_entropy_backward_impl(logits, labels, dloss, dlogits, shape, false);
}
void cross_entropy_backward_cpu(const float* logits, const float* labels, const float* dloss, float* dlogits,
                                const ClassLossShape& shape) {
  cross_entropy_backward_impl(logits, labels, dloss, dlogits, shape, true);
}
template void cross_entropy_forward_ref<float>(const float*, const float*, float*, const ClassLossShape&);
template void cross_entropy_forward_ref<double>(const double*, const float*, double*, const ClassLossShape&);
template void cross_entropy_backward_ref<float>(const float*, const float*, const float*, float*,
                                                const ClassLossShape&);
template void cross_entropy_backward_ref<double>(const double*, const float*, const double*, double*,
                                                 const ClassLossShape&);

// The four entry points of a pointwise loss, and the two instantiations of its references.
#define FER_POINTWISE_LOSS(op, Term)                                                                   \
  template <typename T>                                                                                \
  void op##_forward_ref(const T* a, const T* b, T* loss, int64_t count) {                              \
    pointwise_forward<Term>(a, b, loss, count, false);                                                 \
  }                                                                                                    \
  void op##_forward_cpu(const float* a, const float* b, float* loss, int64_t count) {                  \
    pointwise_forward<Term>(a, b, loss, count, true);                                                  \
  }                                                                                                    \
  template <typename T>                                                                                \
  void op##_backward_ref(const T* a, const T* b, const T* dloss, T* da, T* db, int64_t count) {        \
    pointwise_backward<Term>(a, b, dloss, da, db, count, false);                                       \
  }                                                                                                    \
  void op##_backward_cpu(const float* a, const float* b, const float* dloss, float* da, float* db,     \
                         int64_t count) {                                                              \
    pointwise_backward<Term>(a, b, dloss, da, db, count, true);                                        \
  }                                                                                                    \
  template void op##_forward_ref<float>(const float*, const float*, float*, int64_t);                  \
  template void op##_forward_ref<double>(const double*, const double*, double*, int64_t);              \
  template void op##_backward_ref<float>(const float*, const float*, const float*, float*, float*, int64_t); \
  template void op##_backward_ref<double>(const double*, const double*, const double*, double*, double*, \
                                          int64_t);

FER_POINTWISE_LOSS(bce_with_logits, BceTerm)
FER_POINTWISE_LOSS(l1_loss, L1Term)
FER_POINTWISE_LOSS(mse_loss, MseTerm)
#undef FER_POINTWISE_LOSS

}  // namespace fer
