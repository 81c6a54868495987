// Shape, indexing and reduction ops (kernels: kernels/reduce/ and kernels/elementwise/).
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace fer {

Tensor reshape(const Tensor& x, const Shape& shape);  // one axis may be -1
Tensor flatten(const Tensor& x, int64_t start_axis = 1);
// Concatenation along `axis`; all other axes must match.
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
// Rows [start, end) along `axis` (copy).
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end);
// Rows `indices` along axis 0 (copy); the backward scatters with +=.
Tensor index_select(const Tensor& x, const std::vector<int64_t>& indices);
// labels [N] (float32, integer values) -> [N, K] one-hot float32; no gradient.
Tensor one_hot(const Tensor& labels, int64_t num_classes);

Tensor sum(const Tensor& x);   // all elements -> [1]
Tensor mean(const Tensor& x);  // all elements -> [1]
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);

}  // namespace fer
