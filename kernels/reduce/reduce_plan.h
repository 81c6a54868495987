// The split of a sum's full shape into the kept axes (which enumerate the outputs, in output
// order since y is contiguous) and the summed axes (which enumerate one output's terms), each a
// StridedShape<1> over x's contiguous strides: one output is then a strided walk over its terms.
// Shared by the CPU kernels (reduce.cpp) and the CUDA ones (reduce.cu).
#pragma once
#include <cstdint>
#include <initializer_list>

#include "kernels/elementwise/strided.h"

namespace fer {

struct ReducePlan {
  StridedShape<1> kept;    // iterates outputs; strides[0] = offset of the output's first term in x
  StridedShape<1> summed;  // iterates one output's terms; strides[0] = their offsets in x
};

inline void append_axis(StridedShape<1>& s, int64_t size, int64_t stride) {
  s.dims[s.ndim] = size;
  s.strides[0][s.ndim] = stride;
  ++s.ndim;
  s.numel *= size;
}

// shape: reduce.h's layout (strides[0] reads y: 0 on every summed axis).
inline ReducePlan make_reduce_plan(const StridedShape<1>& shape) {
  ReducePlan plan;
  int64_t x_stride[kMaxDims];
  int64_t step = 1;
  for (int d = shape.ndim - 1; d >= 0; --d) {
    x_stride[d] = step;
    step *= shape.dims[d];
  }
  for (int d = 0; d < shape.ndim; ++d) {
    const bool summed = shape.strides[0][d] == 0;
    append_axis(summed ? plan.summed : plan.kept, shape.dims[d], x_stride[d]);
  }
  // An empty axis list is one iteration over a single element.
  for (StridedShape<1>* s : {&plan.kept, &plan.summed})
    if (s->ndim == 0) append_axis(*s, 1, 0);
  return plan;
}

}  // namespace fer
