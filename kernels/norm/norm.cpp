// Batch norm and instance norm on the CPU: the reference (_ref<T>) and the OpenMP path (_cpu).
// See norm.h for the layout and what the backward writes.
//
// Both norms normalize "groups" of elements with per-group statistics: batch norm's group is a
// channel (batch runs of `spatial` elements, channels * spatial apart), instance norm's is one
// (n, c) plane (one run). The group code below is shared; the _cpu versions call the same
// per-channel functions as _ref<float> with kFast set: channels split across OpenMP threads and
// float vector arithmetic within a group (see Acc).
#include <cmath>
#include <type_traits>
#include <utility>

#include "kernels/elementwise/parallel.h"
#include "kernels/norm/norm.h"

namespace fer {

namespace {

// `blocks` runs of `run` contiguous elements, `stride` apart, starting at element `first`.
struct Group {
  int64_t first;
  int64_t blocks;
  int64_t stride;
  int64_t run;
  int64_t count() const { return blocks * run; }
};

Group channel_group(const NormShape& s, int64_t c) {
  return {c * s.spatial, s.batch, s.channels * s.spatial, s.spatial};
}

int64_t numel(const NormShape& s) { return s.batch * s.channels * s.spatial; }

Group plane_group(const NormShape& s, int64_t plane) { return {plane * s.spatial, 1, s.spatial, s.spatial}; }

// Calls f(index) for every element index of the group.
template <typename F>
void for_each_element(const Group& g, F&& f) {
  for (int64_t b = 0; b < g.blocks; ++b) {
    const int64_t base = g.first + b * g.stride;
    for (int64_t i = 0; i < g.run; ++i) f(base + i);
  }
}

// kFast selects the _cpu path's arithmetic. The reference accumulates and normalizes in double,
// element by element. The _cpu path sums each run (at most one plane, a few thousand terms) in
// float vector lanes (`omp simd` may reorder the sum) and the runs in double, and applies the
// normalization as one float multiply-add per element: 4-8 lanes instead of one double.
template <bool kFast>
using Acc = std::conditional_t<kFast, float, double>;

// Sums over the group of term_a(index) and term_b(index) (each returning Acc<kFast>), in one pass.
template <bool kFast, typename Fa, typename Fb>
std::pair<double, double> group_sums(const Group& g, Fa&& term_a, Fb&& term_b) {
  double total_a = 0, total_b = 0;
  for (int64_t b = 0; b < g.blocks; ++b) {
    const int64_t base = g.first + b * g.stride;
    if constexpr (kFast) {
      float run_a = 0, run_b = 0;
#pragma omp simd reduction(+ : run_a, run_b)
      for (int64_t i = 0; i < g.run; ++i) {
        run_a += term_a(base + i);
        run_b += term_b(base + i);
      }
      total_a += run_a;
      total_b += run_b;
    } else {
      for (int64_t i = 0; i < g.run; ++i) {
        total_a += term_a(base + i);
        total_b += term_b(base + i);
      }
    }
  }
  return {total_a, total_b};
}

// Sum over the group of term(index), term returning Acc<kFast>.
template <bool kFast, typename F>
double group_sum(const Group& g, F&& term) {
  return group_sums<kFast>(g, term, [](int64_t) { return Acc<kFast>(0); }).first;
}

struct Moments {
  double mean;
  double var;  // biased
};

template <bool kFast, typename T>
Moments group_moments(const T* x, const Group& g) {
  using A = Acc<kFast>;
  const double mean = group_sum<kFast>(g, [&](int64_t i) { return static_cast<A>(x[i]); }) /
                      static_cast<double>(g.count());
  const A m = static_cast<A>(mean);
  const double squares = group_sum<kFast>(g, [&](int64_t i) { return (x[i] - m) * (x[i] - m); });
  return {mean, squares / static_cast<double>(g.count())};
}

// y = (x - mean) * invstd * gamma + beta over the group (the _cpu path: y = x * scale + shift).
template <bool kFast, typename T>
void group_normalize(const T* x, const Group& g, double mean, double invstd, double gamma, double beta, T* y) {
  if constexpr (kFast) {
    const float scale = static_cast<float>(invstd * gamma), shift = static_cast<float>(beta - mean * invstd * gamma);
    for_each_element(g, [&](int64_t i) { y[i] = x[i] * scale + shift; });
  } else {
    for_each_element(g, [&](int64_t i) { y[i] = static_cast<T>((x[i] - mean) * invstd * gamma + beta); });
  }
}

struct GradSums {
  double dy = 0;         // sum dy
  double dy_x_hat = 0;   // sum dy * x_hat
};

// Both sums in one pass over x and dy.
template <bool kFast, typename T>
GradSums group_grad_sums(const T* x, const T* dy, const Group& g, double mean, double invstd) {
  using A = Acc<kFast>;
  const A m = static_cast<A>(mean);
  const auto [sum_dy, sum_dy_x_centered] = group_sums<kFast>(
      g, [&](int64_t i) { return static_cast<A>(dy[i]); }, [&](int64_t i) { return dy[i] * (x[i] - m); });
  return {sum_dy, sum_dy_x_centered * invstd};
}

// dx of a group normalized with its own statistics (the training closed form)
//   dx = gamma * invstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)),
// on the _cpu path rewritten as dx = a * dy + b * x + c.
template <bool kFast, typename T>
void group_dx_batch_stats(const T* x, const T* dy, const Group& g, double mean, double invstd, double gamma,
                          const GradSums& sums, T* dx) {
  const double m = static_cast<double>(g.count());
  const double mean_dy = sums.dy / m;
  const double mean_dy_x_hat = sums.dy_x_hat / m;
  if constexpr (kFast) {
    const double a = gamma * invstd, b = -a * invstd * mean_dy_x_hat;
    const float fa = static_cast<float>(a), fb = static_cast<float>(b), fc = static_cast<float>(-a * mean_dy - b * mean);
    for_each_element(g, [&](int64_t i) { dx[i] = fa * dy[i] + fb * x[i] + fc; });
  } else {
    for_each_element(g, [&](int64_t i) {
      const double x_hat = (x[i] - mean) * invstd;
      dx[i] = static_cast<T>(gamma * invstd * (dy[i] - mean_dy - x_hat * mean_dy_x_hat));
    });
  }
}

template <typename T>
double gamma_of(const T* weight, int64_t c) {
  return weight ? static_cast<double>(weight[c]) : 1.0;
}

template <typename T>
double beta_of(const T* bias, int64_t c) {
  return bias ? static_cast<double>(bias[c]) : 0.0;
}

// Runs channel(c) for every channel, split across OpenMP threads when `parallel`.
template <typename F>
void for_each_channel(int64_t channels, bool parallel, F&& channel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < channels; ++c) channel(c);
}

// ---- batch norm -----------------------------------------------------------------------------

template <bool kFast, typename T>
void batch_norm_forward_impl(const T* x, const T* weight, const T* bias, T* running_mean, T* running_var, T* y,
                             T* save_mean, T* save_invstd, const NormShape& shape, const BatchNormConfig& config) {
  for_each_channel(shape.channels, kFast && worth_threads(numel(shape)), [&](int64_t c) {
    const Group g = channel_group(shape, c);
    double mean, invstd;
    if (config.training) {
      const Moments m = group_moments<kFast>(x, g);
      mean = m.mean;
      invstd = 1.0 / std::sqrt(m.var + config.eps);
      if (running_mean) running_mean[c] = static_cast<T>((1 - config.momentum) * running_mean[c] + config.momentum * mean);
      if (running_var) {
        const double unbiased = m.var * static_cast<double>(g.count()) / static_cast<double>(g.count() - 1);
        running_var[c] = static_cast<T>((1 - config.momentum) * running_var[c] + config.momentum * unbiased);
      }
    } else {
      mean = running_mean[c];
      invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + config.eps);
    }
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    group_normalize<kFast>(x, g, mean, invstd, gamma_of(weight, c), beta_of(bias, c), y);
  });
}

template <bool kFast, typename T>
void batch_norm_backward_impl(const T* x, const T* dy, const T* weight, const T* save_mean, const T* save_invstd,
                              T* dx, T* dweight, T* dbias, const NormShape& shape, bool training) {
  for_each_channel(shape.channels, kFast && worth_threads(numel(shape)), [&](int64_t c) {
    const Group g = channel_group(shape, c);
    const double mean = save_mean[c], invstd = save_invstd[c], gamma = gamma_of(weight, c);
    const GradSums sums = group_grad_sums<kFast>(x, dy, g, mean, invstd);
    if (training) {
      group_dx_batch_stats<kFast>(x, dy, g, mean, invstd, gamma, sums, dx);
    } else {
      for_each_element(g, [&](int64_t i) { dx[i] = static_cast<T>(gamma * invstd * dy[i]); });
    }
    if (dweight) dweight[c] = static_cast<T>(sums.dy_x_hat);
    if (dbias) dbias[c] = static_cast<T>(sums.dy);
  });
}

// ---- instance norm --------------------------------------------------------------------------

template <bool kFast, typename T>
void instance_norm_forward_impl(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_invstd,
                                const NormShape& shape, double eps) {
  for_each_channel(shape.channels, kFast && worth_threads(numel(shape)), [&](int64_t c) {
    for (int64_t n = 0; n < shape.batch; ++n) {
      const int64_t plane = n * shape.channels + c;
      const Group g = plane_group(shape, plane);
      const Moments m = group_moments<kFast>(x, g);
      const double invstd = 1.0 / std::sqrt(m.var + eps);
      save_mean[plane] = static_cast<T>(m.mean);
      save_invstd[plane] = static_cast<T>(invstd);
      group_normalize<kFast>(x, g, m.mean, invstd, gamma_of(weight, c), beta_of(bias, c), y);
    }
  });
}

template <bool kFast, typename T>
void instance_norm_backward_impl(const T* x, const T* dy, const T* weight, const T* save_mean,
                                 const T* save_invstd, T* dx, T* dweight, T* dbias, const NormShape& shape) {
  for_each_channel(shape.channels, kFast && worth_threads(numel(shape)), [&](int64_t c) {
    GradSums channel_sums;
    for (int64_t n = 0; n < shape.batch; ++n) {
      const int64_t plane = n * shape.channels + c;
      const Group g = plane_group(shape, plane);
      const GradSums sums = group_grad_sums<kFast>(x, dy, g, save_mean[plane], save_invstd[plane]);
      group_dx_batch_stats<kFast>(x, dy, g, save_mean[plane], save_invstd[plane], gamma_of(weight, c), sums, dx);
      channel_sums.dy += sums.dy;
      channel_sums.dy_x_hat += sums.dy_x_hat;
    }
    if (dweight) dweight[c] = static_cast<T>(channel_sums.dy_x_hat);
    if (dbias) dbias[c] = static_cast<T>(channel_sums.dy);
  });
}

}  // namespace

template <typename T>
void batch_norm_forward_ref(const T* x, const T* weight, const T* bias, T* running_mean, T* running_var, T* y,
                            T* save_mean, T* save_invstd, const NormShape& shape, const BatchNormConfig& config) {
  batch_norm_forward_impl<false>(x, weight, bias, running_mean, running_var, y, save_mean, save_invstd, shape,
                                 config);
}

void batch_norm_forward_cpu(const float* x, const float* weight, const float* bias, float* running_mean,
                            float* running_var, float* y, float* save_mean, float* save_invstd,
                            const NormShape& shape, const BatchNormConfig& config) {
  batch_norm_forward_impl<true>(x, weight, bias, running_mean, running_var, y, save_mean, save_invstd, shape,
                                config);
}

template <typename T>
void batch_norm_backward_ref(const T* x, const T* dy, const T* weight, const T* save_mean, const T* save_invstd,
                             T* dx, T* dweight, T* dbias, const NormShape& shape, bool training) {
  batch_norm_backward_impl<false>(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape, training);
}

void batch_norm_backward_cpu(const float* x, const float* dy, const float* weight, const float* save_mean,
                             const float* save_invstd, float* dx, float* dweight, float* dbias,
                             const NormShape& shape, bool training) {
  batch_norm_backward_impl<true>(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape, training);
}

template <typename T>
void instance_norm_forward_ref(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_invstd,
                               const NormShape& shape, double eps) {
  instance_norm_forward_impl<false>(x, weight, bias, y, save_mean, save_invstd, shape, eps);
}

void instance_norm_forward_cpu(const float* x, const float* weight, const float* bias, float* y,
                               float* save_mean, float* save_invstd, const NormShape& shape, double eps) {
  instance_norm_forward_impl<true>(x, weight, bias, y, save_mean, save_invstd, shape, eps);
}

template <typename T>
void instance_norm_backward_ref(const T* x, const T* dy, const T* weight, const T* save_mean,
                                const T* save_invstd, T* dx, T* dweight, T* dbias, const NormShape& shape) {
  instance_norm_backward_impl<false>(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape);
}

void instance_norm_backward_cpu(const float* x, const float* dy, const float* weight, const float* save_mean,
                                const float* save_invstd, float* dx, float* dweight, float* dbias,
                                const NormShape& shape) {
  instance_norm_backward_impl<true>(x, dy, weight, save_mean, save_invstd, dx, dweight, dbias, shape);
}

#define FER_NORM_INSTANTIATE(T)                                                                            \
  template void batch_norm_forward_ref<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*, const NormShape&, \
                                          const BatchNormConfig&);                                          \
  template void batch_norm_backward_ref<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,     \
                                           const NormShape&, bool);                                         \
  template void instance_norm_forward_ref<T>(const T*, const T*, const T*, T*, T*, T*, const NormShape&,    \
                                             double);                                                       \
  template void instance_norm_backward_ref<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,  \
                                              const NormShape&);
FER_NORM_INSTANTIATE(float)
FER_NORM_INSTANTIATE(double)
#undef FER_NORM_INSTANTIATE

}  // namespace fer
