// Sums over axes, and the reduction of a broadcast gradient onto its operand's shape.
//
// Layout: x is contiguous over shape.dims (the full shape); y is contiguous over the kept axes,
// and shape.strides[0] reads y: stride 0 on every summed axis (make_strided_shape(full, {kept
// shape with 1 on summed axes})). The same struct therefore describes sum(x, axes), mean, and the
// sum-to-shape that a broadcasting binary op's backward needs.
// Forward: y[o] = scale * sum of x over the summed axes at o, accumulated in double; overwrites y.
// Threads (_cpu): OpenMP over ranges of outputs when there are enough of them; otherwise (a full
// sum, or a few long rows) each output's sum is split over threads in partial sums.
// Backward: grad_x[i] = scale * grad_y[o(i)] (the broadcast back); overwrites grad_x.
#pragma once
#include <cstdint>

#include "kernels/elementwise/strided.h"

namespace fer {

template <typename T>
void sum_forward_ref(const StridedShape<1>& shape, double scale, const T* x, T* y);
void sum_forward_cpu(const StridedShape<1>& shape, double scale, const float* x, float* y);
template <typename T>
void sum_backward_ref(const StridedShape<1>& shape, double scale, const T* grad_y, T* grad_x);
void sum_backward_cpu(const StridedShape<1>& shape, double scale, const float* grad_y, float* grad_x);

}  // namespace fer
