// Unary maps, broadcasting binary ops and dropout: references and OpenMP CPU paths.
// Each op is written once as a loop over a range of output elements; _ref runs it over the whole
// range, _cpu over one range per thread (kernels/elementwise/parallel.h). The switch on the op
// sits outside the loop so that each loop body is a single expression the compiler can vectorize.
#include <cmath>

#include "kernels/common/random.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/parallel.h"

namespace fer {

namespace {

// ---- unary --------------------------------------------------------------------------------

template <typename T, typename F>
void map_range(const T* x, T* y, int64_t begin, int64_t end, F f) {
  for (int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
}

template <typename T, typename F>
void zip_range(const T* u, const T* v, T* out, int64_t begin, int64_t end, F f) {
  for (int64_t i = begin; i < end; ++i) out[i] = f(u[i], v[i]);
}

template <typename T>
void unary_forward_range(UnaryOp op, UnaryParams p, const T* x, T* y, int64_t begin, int64_t end) {
  const T a = static_cast<T>(p.a);
  const T b = static_cast<T>(p.b);
  switch (op) {
    case UnaryOp::Affine: return map_range(x, y, begin, end, [=](T v) { return a * v + b; });
    case UnaryOp::Relu: return map_range(x, y, begin, end, [](T v) { return v > 0 ? v : T(0); });
    case UnaryOp::LeakyRelu: return map_range(x, y, begin, end, [=](T v) { return v > 0 ? v : a * v; });
    case UnaryOp::Tanh: return map_range(x, y, begin, end, [](T v) { return std::tanh(v); });
    case UnaryOp::Sigmoid:
      return map_range(x, y, begin, end, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
    case UnaryOp::Clamp:
      return map_range(x, y, begin, end, [=](T v) { return v < a ? a : (v > b ? b : v); });
  }
}

template <typename T>
void unary_backward_range(UnaryOp op, UnaryParams p, const T* x, const T* y, const T* gy, T* gx,
                          int64_t begin, int64_t end) {
  const T a = static_cast<T>(p.a);
  const T b = static_cast<T>(p.b);
  const T* sign = unary_backward_reads_output(op, p) ? y : x;  // relu, leaky relu: same sign
  switch (op) {
    case UnaryOp::Affine: return map_range(gy, gx, begin, end, [=](T g) { return a * g; });
    case UnaryOp::Relu:
      return zip_range(sign, gy, gx, begin, end, [](T v, T g) { return v > 0 ? g : T(0); });
    case UnaryOp::LeakyRelu:
      return zip_range(sign, gy, gx, begin, end, [=](T v, T g) { return v > 0 ? g : a * g; });
    case UnaryOp::Tanh:
      return zip_range(y, gy, gx, begin, end, [](T out, T g) { return g * (T(1) - out * out); });
    case UnaryOp::Sigmoid:
      return zip_range(y, gy, gx, begin, end, [](T out, T g) { return g * out * (T(1) - out); });
    case UnaryOp::Clamp:
      return zip_range(x, gy, gx, begin, end, [=](T v, T g) { return v >= a && v <= b ? g : T(0); });
  }
}

// ---- binary -------------------------------------------------------------------------------

// Runs along the inner axis are plain strided loops (stride 0 or 1 on the common shapes), which
// the compiler vectorizes; the odometer of for_each_run is paid once per run.
template <typename T, typename F>
void broadcast_range(const StridedShape<2>& s, const T* a, const T* b, T* out, int64_t begin, int64_t end,
                     F f) {
  const int64_t sa = s.strides[0][s.ndim - 1];
  const int64_t sb = s.strides[1][s.ndim - 1];
  for_each_run(s, begin, end, [&](int64_t i, const int64_t* at, int64_t run) {
    const T* pa = a + at[0];
    const T* pb = b + at[1];
    for (int64_t r = 0; r < run; ++r) out[i + r] = f(pa[r * sa], pb[r * sb]);
  });
}

template <typename T>
void binary_forward_range(BinaryOp op, const StridedShape<2>& s, const T* a, const T* b, T* out,
                          int64_t begin, int64_t end) {
  switch (op) {
    case BinaryOp::Add: return broadcast_range(s, a, b, out, begin, end, [](T u, T v) { return u + v; });
    case BinaryOp::Sub: return broadcast_range(s, a, b, out, begin, end, [](T u, T v) { return u - v; });
    case BinaryOp::Mul: return broadcast_range(s, a, b, out, begin, end, [](T u, T v) { return u * v; });
    case BinaryOp::Div: return broadcast_range(s, a, b, out, begin, end, [](T u, T v) { return u / v; });
  }
}

template <typename T>
void binary_backward_range(BinaryOp op, const StridedShape<2>& s, const T* a, const T* b, const T* g,
                           T* ga, T* gb, int64_t begin, int64_t end) {
  FER_CHECK(op == BinaryOp::Mul || op == BinaryOp::Div)
      << "binary_backward: only mul and div have a per-element gradient kernel";
  const bool mul = op == BinaryOp::Mul;
  const int64_t sa = s.strides[0][s.ndim - 1];
  const int64_t sb = s.strides[1][s.ndim - 1];
  for_each_run(s, begin, end, [&](int64_t i, const int64_t* at, int64_t run) {
    for (int64_t r = 0; r < run; ++r) {
      const T u = a[at[0] + r * sa];
      const T v = b[at[1] + r * sb];
      if (ga) ga[i + r] = mul ? g[i + r] * v : g[i + r] / v;
      if (gb) gb[i + r] = mul ? g[i + r] * u : -g[i + r] * u / (v * v);
    }
  });
}

// ---- dropout ------------------------------------------------------------------------------

// Compared in float so that every device, which draws the same float u, takes the same decision.
template <typename T>
void dropout_range(double p, uint64_t seed, uint64_t offset, const T* x, T* y, int64_t begin, int64_t end) {
  const float threshold = static_cast<float>(p);
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  for (int64_t i = begin; i < end; ++i)
    y[i] = random_uniform(seed, offset + static_cast<uint64_t>(i)) >= threshold ? x[i] * scale : T(0);
}

}  // namespace

// ---- entry points -------------------------------------------------------------------------

template <typename T>
void unary_forward_ref(UnaryOp op, UnaryParams p, int64_t n, const T* x, T* y) {
  unary_forward_range(op, p, x, y, 0, n);
}
void unary_forward_cpu(UnaryOp op, UnaryParams p, int64_t n, const float* x, float* y) {
  parallel_ranges(n, kElementwiseGrain, [&](int64_t b, int64_t e) { unary_forward_range(op, p, x, y, b, e); });
}

template <typename T>
void unary_backward_ref(UnaryOp op, UnaryParams p, int64_t n, const T* x, const T* y, const T* grad_y,
                        T* grad_x) {
  unary_backward_range(op, p, x, y, grad_y, grad_x, 0, n);
}
void unary_backward_cpu(UnaryOp op, UnaryParams p, int64_t n, const float* x, const float* y,
                        const float* grad_y, float* grad_x) {
  parallel_ranges(n, kElementwiseGrain,
                  [&](int64_t b, int64_t e) { unary_backward_range(op, p, x, y, grad_y, grad_x, b, e); });
}

template <typename T>
void binary_forward_ref(BinaryOp op, const StridedShape<2>& shape, const T* a, const T* b, T* out) {
  binary_forward_range(op, shape, a, b, out, 0, shape.numel);
}
void binary_forward_cpu(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b,
                        float* out) {
  parallel_ranges(shape.numel, kElementwiseGrain,
                  [&](int64_t lo, int64_t hi) { binary_forward_range(op, shape, a, b, out, lo, hi); });
}

template <typename T>
void binary_backward_ref(BinaryOp op, const StridedShape<2>& shape, const T* a, const T* b,
                         const T* grad_out, T* grad_a_full, T* grad_b_full) {
  binary_backward_range(op, shape, a, b, grad_out, grad_a_full, grad_b_full, 0, shape.numel);
}
void binary_backward_cpu(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b,
                         const float* grad_out, float* grad_a_full, float* grad_b_full) {
  parallel_ranges(shape.numel, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    binary_backward_range(op, shape, a, b, grad_out, grad_a_full, grad_b_full, lo, hi);
  });
}

// The backward applies the same mask and scale to the gradient: it is the forward on grad_y.
template <typename T>
void dropout_forward_ref(int64_t n, double p, uint64_t seed, uint64_t offset, const T* x, T* y) {
  dropout_range(p, seed, offset, x, y, 0, n);
}
void dropout_forward_cpu(int64_t n, double p, uint64_t seed, uint64_t offset, const float* x, float* y) {
  parallel_ranges(n, kElementwiseGrain, [&](int64_t b, int64_t e) { dropout_range(p, seed, offset, x, y, b, e); });
}
template <typename T>
void dropout_backward_ref(int64_t n, double p, uint64_t seed, uint64_t offset, const T* grad_y, T* grad_x) {
  dropout_forward_ref(n, p, seed, offset, grad_y, grad_x);
}
void dropout_backward_cpu(int64_t n, double p, uint64_t seed, uint64_t offset, const float* grad_y,
                          float* grad_x) {
  dropout_forward_cpu(n, p, seed, offset, grad_y, grad_x);
}

#define FER_INSTANTIATE(T)                                                                              \
  template void unary_forward_ref<T>(UnaryOp, UnaryParams, int64_t, const T*, T*);                       \
  template void unary_backward_ref<T>(UnaryOp, UnaryParams, int64_t, const T*, const T*, const T*, T*);  \
  template void binary_forward_ref<T>(BinaryOp, const StridedShape<2>&, const T*, const T*, T*);         \
  template void binary_backward_ref<T>(BinaryOp, const StridedShape<2>&, const T*, const T*, const T*,   \
                                       T*, T*);                                                          \
  template void dropout_forward_ref<T>(int64_t, double, uint64_t, uint64_t, const T*, T*);               \
  template void dropout_backward_ref<T>(int64_t, double, uint64_t, uint64_t, const T*, T*);
FER_INSTANTIATE(float)
FER_INSTANTIATE(double)
#undef FER_INSTANTIATE

}  // namespace fer
