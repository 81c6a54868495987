// Shape, indexing and reduction ops: validation, dispatch to kernels/reduce/ and
// kernels/elementwise/, and their backward functions.
#include "engine/ops/shape.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops/broadcast.h"
#include "kernels/reduce/reduce.h"

namespace fer {

Tensor sum_to_shape(const Tensor& x, const Shape& shape, double scale) {
  if (x.shape() == shape && scale == 1.0) return x;
  const StridedShape<1> s = make_strided_shape<1>(x.shape(), {shape});
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), sum_forward, s, scale, x.data<T>(), y.data<T>());
  return y;
}

Tensor expand_to_shape(const Tensor& x, const Shape& shape, double scale) {
  if (x.shape() == shape && scale == 1.0) return x;
  const StridedShape<1> s = make_strided_shape<1>(shape, {x.shape()});
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), sum_backward, s, scale, x.data<T>(), y.data<T>());
  return y;
}

namespace {

int64_t normalize_axis(int64_t axis, int64_t dim, const char* op, const Shape& shape) {
  FER_CHECK(axis >= -dim && axis < dim) << op << ": axis " << axis << " out of range for shape " << shape_str(shape);
  return axis < 0 ? axis + dim : axis;
}

// Sums (scale 1) or averages over the axes flagged in `summed`.
Tensor reduce(const Tensor& x, const std::vector<bool>& summed, bool keepdim, bool average, const char* op) {
  const Shape& in = x.shape();
  Shape kept_shape = in;
  Shape out_shape;
  int64_t count = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    if (summed[d]) {
      kept_shape[d] = 1;
      count *= in[d];
    }
    if (!summed[d] || keepdim) out_shape.push_back(kept_shape[d]);
  }
  if (out_shape.empty()) out_shape = {1};  // scalars are [1] in this engine
  FER_CHECK(!average || count > 0) << op << ": mean over an empty set of elements of " << x.str();
  const double scale = average ? 1.0 / static_cast<double>(count) : 1.0;
  Tensor y = reshape_view(sum_to_shape(x, kept_shape, scale), out_shape);
  if (y.same_storage(x)) y = y.clone();  // nothing was summed: the result must not alias x
  record(y, op, {x}, [in, kept_shape, scale](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
    return {expand_to_shape(reshape_view(g, kept_shape), in, scale)};
  });
  return y;
}

}  // namespace

Tensor sum(const Tensor& x) {
  FER_CHECK(x.defined()) << "sum: undefined input";
  return reduce(x, std::vector<bool>(x.shape().size(), true), false, false, "sum");
}

Tensor mean(const Tensor& x) {
  FER_CHECK(x.defined()) << "mean: undefined input";
  return reduce(x, std::vector<bool>(x.shape().size(), true), false, true, "mean");
}

namespace {
std::vector<bool> axis_mask(const Tensor& x, const std::vector<int64_t>& axes, const char* op) {
  FER_CHECK(x.defined()) << op << ": undefined input";
  FER_CHECK(!axes.empty()) << op << ": empty axis list for " << x.str() << " (use " << op << "(x) for all axes)";
  std::vector<bool> mask(x.shape().size(), false);
  for (int64_t axis : axes) {
    const size_t d = static_cast<size_t>(normalize_axis(axis, x.dim(), op, x.shape()));
    FER_CHECK(!mask[d]) << op << ": axis " << axis << " listed twice for shape " << shape_str(x.shape());
    mask[d] = true;
  }
  return mask;
}
}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce(x, axis_mask(x, axes, "sum"), keepdim, false, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return reduce(x, axis_mask(x, axes, "mean"), keepdim, true, "mean");
}

}  // namespace fer
