// Internal to the elementwise and shape ops (engine/ops/elementwise.cpp, engine/ops/shape.cpp):
// the two directions of broadcasting, without autograd. Defined in engine/ops/shape.cpp.
#pragma once
#include "engine/tensor.h"

namespace fer {

// scale * x summed over the axes where `shape` is 1 or missing (right-aligned), with the result
// shaped `shape`. Returns x itself when the shapes match and scale is 1.
Tensor sum_to_shape(const Tensor& x, const Shape& shape, double scale = 1.0);
// scale * x repeated along the axes where x is 1 or missing, to `shape`: the adjoint of
// sum_to_shape.
Tensor expand_to_shape(const Tensor& x, const Shape& shape, double scale = 1.0);

}  // namespace fer
