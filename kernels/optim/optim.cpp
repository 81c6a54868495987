// SGD and Adam updates: plain-loop references and OpenMP versions. See optim.h for the formulas.
// Both versions run the same per-element function; the _cpu loop only adds the OpenMP split
// (parallel_ranges: small parameters stay on the calling thread).
#include "kernels/optim/optim.h"

#include <cmath>

#include "kernels/elementwise/parallel.h"

namespace fer {

namespace {

// Scalars are cast to T before use, as PyTorch casts Python numbers to the tensor's type.
template <typename T>
struct SgdScalars {
  T lr, momentum, weight_decay;
  bool nesterov, has_momentum;
  explicit SgdScalars(const SgdHyper& h)
      : lr(static_cast<T>(h.lr)), momentum(static_cast<T>(h.momentum)),
        weight_decay(static_cast<T>(h.weight_decay)), nesterov(h.nesterov), has_momentum(h.momentum != 0) {}
};

template <typename T>
inline void sgd_element(const SgdSlice<T>& s, int64_t i, const SgdScalars<T>& k) {
  T g = s.grad[i];
  if (k.weight_decay != 0) g = g + k.weight_decay * s.param[i];
  if (k.has_momentum) {
    const T buf = s.momentum_buffer[i] * k.momentum + g;
    s.momentum_buffer[i] = buf;
    g = k.nesterov ? g + k.momentum * buf : buf;
  }
  s.param[i] = s.param[i] + (-k.lr) * g;
}

template <typename T>
struct AdamScalars {
  T one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  T neg_step_size, bias_correction2_sqrt;
  AdamScalars(const AdamHyper& h, int64_t step)
      : one_minus_beta1(static_cast<T>(1 - h.beta1)), beta2(static_cast<T>(h.beta2)),
        one_minus_beta2(static_cast<T>(1 - h.beta2)), eps(static_cast<T>(h.eps)),
        weight_decay(static_cast<T>(h.weight_decay)),
        neg_step_size(static_cast<T>(-h.lr / (1 - std::pow(h.beta1, static_cast<double>(step))))),
        bias_correction2_sqrt(static_cast<T>(std::sqrt(1 - std::pow(h.beta2, static_cast<double>(step))))) {}
};

template <typename T>
inline void adam_element(const AdamSlice<T>& s, int64_t i, const AdamScalars<T>& k) {
  T g = s.grad[i];
  if (k.weight_decay != 0) g = g + k.weight_decay * s.param[i];
  const T m = s.exp_avg[i] + k.one_minus_beta1 * (g - s.exp_avg[i]);
  const T v = s.exp_avg_sq[i] * k.beta2 + k.one_minus_beta2 * g * g;
  s.exp_avg[i] = m;
  s.exp_avg_sq[i] = v;
  const T denom = std::sqrt(v) / k.bias_correction2_sqrt + k.eps;
  s.param[i] = s.param[i] + k.neg_step_size * m / denom;
}

}  // namespace

template <typename T>
void sgd_update_ref(const SgdSlice<T>* slices, int64_t count, const SgdHyper& h) {
  const SgdScalars<T> k(h);
  for (int64_t s = 0; s < count; ++s)
    for (int64_t i = 0; i < slices[s].size; ++i) sgd_element(slices[s], i, k);
}

void sgd_update_cpu(const SgdSlice<float>* slices, int64_t count, const SgdHyper& h) {
  const SgdScalars<float> k(h);
  for (int64_t s = 0; s < count; ++s) {
    parallel_ranges(slices[s].size, kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sgd_element(slices[s], i, k);
    });
  }
}

template <typename T>
void adam_update_ref(const AdamSlice<T>* slices, int64_t count, const AdamHyper& h) {
  for (int64_t s = 0; s < count; ++s) {
    const AdamScalars<T> k(h, slices[s].step);
    for (int64_t i = 0; i < slices[s].size; ++i) adam_element(slices[s], i, k);
  }
}

void adam_update_cpu(const AdamSlice<float>* slices, int64_t count, const AdamHyper& h) {
  for (int64_t s = 0; s < count; ++s) {
    const AdamScalars<float> k(h, slices[s].step);
    parallel_ranges(slices[s].size, kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) adam_element(slices[s], i, k);
    });
  }
}

template void sgd_update_ref<float>(const SgdSlice<float>*, int64_t, const SgdHyper&);
template void sgd_update_ref<double>(const SgdSlice<double>*, int64_t, const SgdHyper&);
template void adam_update_ref<float>(const AdamSlice<float>*, int64_t, const AdamHyper&);
template void adam_update_ref<double>(const AdamSlice<double>*, int64_t, const AdamHyper&);

}  // namespace fer
