// Shape, indexing and reduction ops: validation, dispatch to kernels/reduce/ and
// kernels/elementwise/, and their backward functions.
#include "engine/ops/shape.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops/broadcast.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "kernels/reduce/reduce.h"
#include "kernels/reduce/reduce_cuda.h"

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

// ---- reshape ------------------------------------------------------------------------------

namespace {
Shape resolve_shape(const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1;
  int free_axis = -1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      FER_CHECK(free_axis < 0) << "reshape: more than one -1 in " << shape_str(shape) << " for " << x.str();
      free_axis = static_cast<int>(d);
    } else {
      FER_CHECK(out[d] >= 0) << "reshape: negative size in " << shape_str(shape) << " for " << x.str();
      known *= out[d];
    }
  }
  if (free_axis >= 0) {
    FER_CHECK(known > 0 && x.numel() % known == 0)
        << "reshape: cannot infer the -1 of " << shape_str(shape) << " for shape " << shape_str(x.shape());
    out[static_cast<size_t>(free_axis)] = x.numel() / known;
  }
  FER_CHECK(shape_numel(out) == x.numel())
      << "reshape: cannot view shape " << shape_str(x.shape()) << " (" << x.numel() << " elements) as "
      << shape_str(shape);
  return out;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  FER_CHECK(x.defined()) << "reshape: undefined input";
  Tensor y = reshape_view(x, resolve_shape(x, shape));
  record(y, "reshape", {x}, [in = x.shape()](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
    return {reshape_view(g, in)};
  });
  return y;
}

Tensor flatten(const Tensor& x, int64_t start_axis) {
  FER_CHECK(x.defined()) << "flatten: undefined input";
  const size_t start = static_cast<size_t>(normalize_axis(start_axis, x.dim(), "flatten", x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(start));
  shape.push_back(-1);
  return reshape(x, shape);
}

// ---- concat and slice ---------------------------------------------------------------------

namespace {
// x viewed as [outer, size(axis), inner], rows [start, start + length) of the axis.
SliceShape slice_shape(const Shape& shape, size_t axis, int64_t start, int64_t length) {
  SliceShape s;
  for (size_t d = 0; d < axis; ++d) s.outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) s.inner *= shape[d];
  s.axis_size = shape[axis];
  s.start = start;
  s.length = length;
  return s;
}
}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  FER_CHECK(!xs.empty()) << "concat: no tensors";
  for (const Tensor& x : xs) FER_CHECK(x.defined()) << "concat: undefined input";
  const Tensor& first = xs[0];
  const size_t ax = static_cast<size_t>(normalize_axis(axis, first.dim(), "concat", first.shape()));
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (const Tensor& x : xs) {
    check_same_device(first, x, "concat");
    check_same_dtype(first, x, "concat");
    bool compatible = x.dim() == first.dim();
    for (size_t d = 0; compatible && d < out_shape.size(); ++d) compatible = d == ax || x.shape()[d] == first.shape()[d];
    FER_CHECK(compatible) << "concat: shapes " << shape_str(first.shape()) << " and " << shape_str(x.shape())
                          << " differ outside axis " << axis;
    out_shape[ax] += x.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  std::vector<SliceShape> parts;
  for (const Tensor& x : xs) {
    parts.push_back(slice_shape(out_shape, ax, parts.empty() ? 0 : parts.back().start + parts.back().length,
                                x.shape()[ax]));
    FER_DISPATCH(x.device(), x.dtype(), slice_backward, parts.back(), x.data<T>(), out.data<T>());
  }
  record(out, "concat", xs, [parts, xs](const Tensor& g, const std::vector<bool>& needs) -> std::vector<Tensor> {
    std::vector<Tensor> grads(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!needs[i]) continue;
      grads[i] = Tensor::empty(xs[i].shape(), g.dtype(), g.device());
      FER_DISPATCH(g.device(), g.dtype(), slice_forward, parts[i], g.data<T>(), grads[i].data<T>());
    }
    return grads;
  });
  return out;
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end) {
  FER_CHECK(x.defined()) << "slice: undefined input";
  const size_t ax = static_cast<size_t>(normalize_axis(axis, x.dim(), "slice", x.shape()));
  FER_CHECK(0 <= start && start < end && end <= x.shape()[ax])
      << "slice: rows [" << start << ", " << end << ") of axis " << axis << " are not a non-empty range of shape "
      << shape_str(x.shape());
  const SliceShape s = slice_shape(x.shape(), ax, start, end - start);
  Shape out_shape = x.shape();
  out_shape[ax] = end - start;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), slice_forward, s, x.data<T>(), y.data<T>());
  record(y, "slice", {x}, [s, in = x.shape()](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
    Tensor gx = Tensor::zeros(in, g.dtype(), g.device());
    FER_DISPATCH(g.device(), g.dtype(), slice_backward, s, g.data<T>(), gx.data<T>());
    return {gx};
  });
  return y;
}

// ---- index_select and one_hot -------------------------------------------------------------

Tensor index_select(const Tensor& x, const std::vector<int64_t>& indices) {
  FER_CHECK(x.defined() && x.dim() >= 1) << "index_select: needs a tensor with at least one axis";
  FER_CHECK(!indices.empty()) << "index_select: no indices for " << x.str();
  const int64_t rows = x.shape()[0];
  for (size_t k = 0; k < indices.size(); ++k)
    FER_CHECK(indices[k] >= 0 && indices[k] < rows)
        << "index_select: index " << indices[k] << " at position " << k << " is out of range [0, " << rows
        << ") for shape " << shape_str(x.shape());
  const int64_t row_size = rows == 0 ? 0 : x.numel() / rows;
  const int64_t count = static_cast<int64_t>(indices.size());
  Shape out_shape = x.shape();
  out_shape[0] = count;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), index_select_forward, row_size, indices.data(), count, x.data<T>(),
               y.data<T>());
  record(y, "index_select", {x},
         [indices, row_size, count, in = x.shape()](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
           Tensor gx = Tensor::zeros(in, g.dtype(), g.device());
           FER_DISPATCH(g.device(), g.dtype(), index_select_backward, row_size, indices.data(), count, g.data<T>(),
                        gx.data<T>());
           return {gx};
         });
  return y;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  FER_CHECK(labels.defined() && labels.dim() == 1)
      << "one_hot: labels must be a [N] tensor, got " << (labels.defined() ? labels.str() : "undefined tensor");
  FER_CHECK(num_classes > 0) << "one_hot: num_classes " << num_classes << " must be positive";
  check_class_labels(labels, num_classes, "one_hot");
  // Labels are few and the check has them on the host anyway: build there, then copy.
  const std::vector<double> values = labels.to_vector_f64();
  std::vector<float> out(values.size() * static_cast<size_t>(num_classes), 0.0f);
  for (size_t i = 0; i < values.size(); ++i) out[i * static_cast<size_t>(num_classes) + static_cast<size_t>(values[i])] = 1.0f;
  return Tensor::from_vector(out, {labels.shape()[0], num_classes}, labels.device());
}

}  // namespace fer
