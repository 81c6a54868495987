// Elementwise ops: validation, dispatch to kernels/elementwise/, and their backward functions.
// Binary ops broadcast (engine/ops/elementwise.h); their backward sums each gradient back onto
// its operand's shape with sum_to_shape (engine/ops/broadcast.h).
#include "engine/ops/elementwise.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops/broadcast.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_cuda.h"

namespace fer {

namespace {

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  FER_CHECK(a.defined() && b.defined()) << op << ": undefined operand";
  check_same_device(a, b, op);
  check_same_dtype(a, b, op);
}

// NumPy broadcasting: shapes aligned on the right, each axis equal or 1 on one side.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t j = 0; j < rank; ++j) {
    const int64_t da = j < a.size() ? a[a.size() - 1 - j] : 1;
    const int64_t db = j < b.size() ? b[b.size() - 1 - j] : 1;
    FER_CHECK(da == db || da == 1 || db == 1)
        << op << ": cannot broadcast shapes " << shape_str(a) << " and " << shape_str(b) << " (axis "
        << rank - 1 - j << " of the result: " << da << " vs " << db << ")";
    out[rank - 1 - j] = da == 1 ? db : da;
  }
  return out;
}

Tensor binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_operands(a, b, name);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  const StridedShape<2> s = make_strided_shape<2>(out_shape, {a.shape(), b.shape()});
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  FER_DISPATCH(a.device(), a.dtype(), binary_forward, op, s, a.data<T>(), b.data<T>(), out.data<T>());
  record(out, name, {a, b}, [op, s, a, b](const Tensor& g, const std::vector<bool>& needs) -> std::vector<Tensor> {
    if (op == BinaryOp::Add || op == BinaryOp::Sub) {
      return {needs[0] ? sum_to_shape(g, a.shape()) : Tensor(),
              needs[1] ? sum_to_shape(g, b.shape(), op == BinaryOp::Sub ? -1.0 : 1.0) : Tensor()};
    }
    Tensor ga = needs[0] ? Tensor::empty_like(g) : Tensor();
    Tensor gb = needs[1] ? Tensor::empty_like(g) : Tensor();
    FER_DISPATCH(g.device(), g.dtype(), binary_backward, op, s, a.data<T>(), b.data<T>(), g.data<T>(),
                 needs[0] ? ga.data<T>() : nullptr, needs[1] ? gb.data<T>() : nullptr);
    return {needs[0] ? sum_to_shape(ga, a.shape()) : Tensor(), needs[1] ? sum_to_shape(gb, b.shape()) : Tensor()};
  });
  return out;
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor unary(UnaryOp op, UnaryParams p, const char* name, const Tensor& x) {
  FER_CHECK(x.defined()) << name << ": undefined input";
  Tensor y = Tensor::empty_like(x);
  FER_DISPATCH(x.device(), x.dtype(), unary_forward, op, p, x.numel(), x.data<T>(), y.data<T>());
  // Only the tensor the derivative reads is kept alive (kernels/elementwise/elementwise.h).
  const Tensor x_saved = unary_backward_reads_input(op, p) ? x : Tensor();
  const Tensor y_saved = unary_backward_reads_output(op, p) ? y.detach() : Tensor();
  record(y, name, {x}, [op, p, x_saved, y_saved](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
    Tensor gx = Tensor::empty_like(g);
    FER_DISPATCH(g.device(), g.dtype(), unary_backward, op, p, g.numel(), data_or_null<T>(x_saved),
                 data_or_null<T>(y_saved), g.data<T>(), gx.data<T>());
    return {gx};
  });
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, "mul", a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, "div", a, b); }

Tensor add(const Tensor& a, double s) { return unary(UnaryOp::Affine, {1.0, s}, "add_scalar", a); }
Tensor mul(const Tensor& a, double s) { return unary(UnaryOp::Affine, {s, 0.0}, "mul_scalar", a); }
Tensor neg(const Tensor& a) { return unary(UnaryOp::Affine, {-1.0, 0.0}, "neg", a); }
Tensor rsub(double s, const Tensor& a) { return unary(UnaryOp::Affine, {-1.0, s}, "rsub", a); }

Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, {}, "relu", x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary(UnaryOp::LeakyRelu, {slope, 0.0}, "leaky_relu", x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, {}, "tanh", x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, {}, "sigmoid", x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  FER_CHECK(lo <= hi) << "clamp: lo " << lo << " > hi " << hi << " for " << (x.defined() ? x.str() : "undefined tensor");
  return unary(UnaryOp::Clamp, {lo, hi}, "clamp", x);
}

Tensor dropout(const Tensor& x, double p, bool training, RandomStream& rng) {
  FER_CHECK(x.defined()) << "dropout: undefined input";
  FER_CHECK(p >= 0 && p < 1) << "dropout: probability " << p << " outside [0, 1) for " << x.str();
  if (!training || p == 0) return x;
  const int64_t n = x.numel();
  const uint64_t seed = rng.seed();
  const uint64_t offset = rng.take(static_cast<uint64_t>(n));
  Tensor y = Tensor::empty_like(x);
  FER_DISPATCH(x.device(), x.dtype(), dropout_forward, n, p, seed, offset, x.data<T>(), y.data<T>());
  record(y, "dropout", {x}, [n, p, seed, offset](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
    Tensor gx = Tensor::empty_like(g);
    FER_DISPATCH(g.device(), g.dtype(), dropout_backward, n, p, seed, offset, g.data<T>(), gx.data<T>());
    return {gx};
  });
  return y;
}

void add_(Tensor& dst, const Tensor& src) {
  check_operands(dst, src, "add_");
  FER_CHECK(dst.shape() == src.shape())
      << "add_: shapes differ: dst " << shape_str(dst.shape()) << ", src " << shape_str(src.shape());
  const StridedShape<2> s = make_strided_shape<2>(dst.shape(), {dst.shape(), src.shape()});
  FER_DISPATCH(dst.device(), dst.dtype(), binary_forward, BinaryOp::Add, s, dst.data<T>(), src.data<T>(),
               dst.data<T>());
}

void scale_(Tensor& dst, double s) {
  FER_CHECK(dst.defined()) << "scale_: undefined tensor";
  FER_DISPATCH(dst.device(), dst.dtype(), unary_forward, UnaryOp::Affine, UnaryParams{s, 0.0}, dst.numel(),
               dst.data<T>(), dst.data<T>());
}

}  // namespace fer
