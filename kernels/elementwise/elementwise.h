// Elementwise kernels: unary maps (affine, activations, clamp), broadcasting binary arithmetic,
// dropout, and the copies behind slice/concat/index_select.
//
// Layout: every buffer is contiguous row-major. Binary ops iterate over the contiguous output and
// read each operand through a StridedShape<2> (kernels/elementwise/strided.h; stride 0 on a
// broadcast axis).
// Threads (_cpu): OpenMP over contiguous ranges of the output (kernels/elementwise/parallel.h),
// each range running the very loop of the reference; small tensors stay on one thread.
// Backward writes: unary_backward, binary_backward, dropout_backward, slice_forward and
// index_select_forward overwrite their outputs; slice_backward overwrites only the slice's region
// of grad_x (the caller zeroes the rest); index_select_backward adds (+=) into grad_x, which the
// caller zeroes first, so repeated indices sum.
// Each _cpu is the _ref<float> loop split over threads; none needs a different algorithm.
#pragma once
#include <cstdint>

#include "kernels/elementwise/strided.h"

namespace fer {

// ---- unary maps: y = f(x) ------------------------------------------------------------------
// Affine: y = a*x + b (add/mul by a scalar, neg, rsub). LeakyRelu: slope a. Clamp: [a, b].
enum class UnaryOp { Affine, Relu, LeakyRelu, Tanh, Sigmoid, Clamp };
struct UnaryParams {
  double a = 0;
  double b = 0;
};

template <typename T>
void unary_forward_ref(UnaryOp op, UnaryParams p, int64_t n, const T* x, T* y);
void unary_forward_cpu(UnaryOp op, UnaryParams p, int64_t n, const float* x, float* y);
// grad_x = grad_y * f'(x), computed from the forward output y where y tells f'(x): tanh and
// sigmoid; relu and leaky relu with a positive slope, whose y > 0 exactly where x > 0 (so autograd
// keeps the output, which the next layer keeps anyway, and lets the input go). Leaky relu with a
// slope <= 0 and clamp read x; affine reads neither. The other pointer may be null.
inline bool unary_backward_reads_output(UnaryOp op, UnaryParams p) {
  return op == UnaryOp::Tanh || op == UnaryOp::Sigmoid || op == UnaryOp::Relu ||
         (op == UnaryOp::LeakyRelu && p.a > 0);
}
inline bool unary_backward_reads_input(UnaryOp op, UnaryParams p) {
  return op != UnaryOp::Affine && !unary_backward_reads_output(op, p);
}
template <typename T>
void unary_backward_ref(UnaryOp op, UnaryParams p, int64_t n, const T* x, const T* y,
                        const T* grad_y, T* grad_x);
void unary_backward_cpu(UnaryOp op, UnaryParams p, int64_t n, const float* x, const float* y,
                        const float* grad_y, float* grad_x);

// ---- broadcasting binary ops: out = a op b --------------------------------------------------
// shape.strides[0] reads a, shape.strides[1] reads b; out is contiguous over shape.
enum class BinaryOp { Add, Sub, Mul, Div };

template <typename T>
void binary_forward_ref(BinaryOp op, const StridedShape<2>& shape, const T* a, const T* b, T* out);
void binary_forward_cpu(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b,
                        float* out);
// Mul and Div only (the gradients of Add and Sub are grad_out itself). Writes the per-element
// gradients at the OUTPUT's shape (grad_a_full = grad_out * d(out)/da, same for b); the caller
// sums them onto the operand shapes (sum_forward, kernels/reduce/). A null pointer skips one.
template <typename T>
void binary_backward_ref(BinaryOp op, const StridedShape<2>& shape, const T* a, const T* b,
                         const T* grad_out, T* grad_a_full, T* grad_b_full);
void binary_backward_cpu(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b,
                         const float* grad_out, float* grad_a_full, float* grad_b_full);

// ---- inverted dropout -----------------------------------------------------------------------
// Element i is kept when random_uniform(seed, offset + i) >= p, and then scaled by 1/(1-p).
// The backward recomputes the mask from (seed, offset): nothing is stored between the passes.
template <typename T>
void dropout_forward_ref(int64_t n, double p, uint64_t seed, uint64_t offset, const T* x, T* y);
void dropout_forward_cpu(int64_t n, double p, uint64_t seed, uint64_t offset, const float* x, float* y);
template <typename T>
void dropout_backward_ref(int64_t n, double p, uint64_t seed, uint64_t offset, const T* grad_y,
                          T* grad_x);
void dropout_backward_cpu(int64_t n, double p, uint64_t seed, uint64_t offset, const float* grad_y,
                          float* grad_x);

// ---- slice along one axis -------------------------------------------------------------------
// x is viewed as [outer, axis_size, inner]; the slice is rows [start, start + length) of the
// middle axis, y is [outer, length, inner]. concat places each input with slice_backward and
// takes the gradients back with slice_forward.
struct SliceShape {
  int64_t outer = 1;
  int64_t axis_size = 1;
  int64_t inner = 1;
  int64_t start = 0;
  int64_t length = 0;
};

template <typename T>
void slice_forward_ref(const SliceShape& s, const T* x, T* y);
void slice_forward_cpu(const SliceShape& s, const float* x, float* y);
template <typename T>
void slice_backward_ref(const SliceShape& s, const T* grad_y, T* grad_x);
void slice_backward_cpu(const SliceShape& s, const float* grad_y, float* grad_x);

// ---- index_select on axis 0 -----------------------------------------------------------------
// x is [rows, row_size]; y[k] = x[indices[k]] for k < count. indices is a HOST array, already
// checked to lie in [0, rows).
template <typename T>
void index_select_forward_ref(int64_t row_size, const int64_t* indices, int64_t count, const T* x, T* y);
void index_select_forward_cpu(int64_t row_size, const int64_t* indices, int64_t count, const float* x,
                              float* y);
// grad_x[indices[k]] += grad_y[k].
template <typename T>
void index_select_backward_ref(int64_t row_size, const int64_t* indices, int64_t count, const T* grad_y,
                               T* grad_x);
void index_select_backward_cpu(int64_t row_size, const int64_t* indices, int64_t count,
                               const float* grad_y, float* grad_x);

}  // namespace fer
