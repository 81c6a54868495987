// linear and matmul: argument checks, dispatch to kernels/gemm/, backward recording.
// The backward saves the inputs it needs (captured by the backward function, released with it).
#include "engine/ops/linear.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_cuda.h"

namespace fer {

namespace {

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

LinearShape linear_shape(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  FER_CHECK(x.dim() == 2 && weight.dim() == 2)
      << "linear: input " << shape_str(x.shape()) << " must be [N, in] and weight "
      << shape_str(weight.shape()) << " [out, in]";
  FER_CHECK(x.size(1) == weight.size(1))
      << "linear: input " << shape_str(x.shape()) << " has " << x.size(1) << " features but weight "
      << shape_str(weight.shape()) << " expects " << weight.size(1);
  check_same_device(x, weight, "linear");
  check_same_dtype(x, weight, "linear");
  if (bias.defined()) {
    check_same_device(x, bias, "linear");
    check_same_dtype(x, bias, "linear");
    FER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0))
        << "linear: bias " << shape_str(bias.shape()) << " does not match weight "
        << shape_str(weight.shape()) << " (expects [" << weight.size(0) << "])";
  }
  return LinearShape{x.size(0), x.size(1), weight.size(0)};
}

MatmulShape matmul_shape(const Tensor& a, const Tensor& b) {
  FER_CHECK(a.dim() == 2 && b.dim() == 2)
      << "matmul: operands must be 2-D, got " << shape_str(a.shape()) << " and " << shape_str(b.shape());
  FER_CHECK(a.size(1) == b.size(0))
      << "matmul: " << shape_str(a.shape()) << " @ " << shape_str(b.shape()) << ": inner sizes "
      << a.size(1) << " and " << b.size(0) << " differ";
  check_same_device(a, b, "matmul");
  check_same_dtype(a, b, "matmul");
  return MatmulShape{a.size(0), b.size(1), a.size(1)};
}

// An empty gradient tensor shaped like `like` when `needed`, else an undefined one.
Tensor gradient_for(const Tensor& like, bool needed) { return needed ? Tensor::empty_like(like) : Tensor(); }

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const LinearShape s = linear_shape(x, weight, bias);
  Tensor y = Tensor::empty({s.N, s.out}, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), linear_forward, s, x.data<T>(), weight.data<T>(),
               data_or_null<T>(bias), y.data<T>());
  record(y, "linear", {x, weight, bias},
         [s, x, weight, bias](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
           Tensor dx = gradient_for(x, needs[0]), dweight = gradient_for(weight, needs[1]),
                  dbias = gradient_for(bias, needs[2]);
           FER_DISPATCH(x.device(), x.dtype(), linear_backward, s, x.data<T>(), weight.data<T>(),
                        dy.data<T>(), data_or_null<T>(dx), data_or_null<T>(dweight), data_or_null<T>(dbias));
           return {dx, dweight, dbias};
         });
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  const MatmulShape s = matmul_shape(a, b);
  Tensor c = Tensor::empty({s.M, s.N}, a.dtype(), a.device());
  FER_DISPATCH(a.device(), a.dtype(), matmul_forward, s, a.data<T>(), b.data<T>(), c.data<T>());
  record(c, "matmul", {a, b},
         [s, a, b](const Tensor& dc, const std::vector<bool>& needs) -> std::vector<Tensor> {
           Tensor da = gradient_for(a, needs[0]), db = gradient_for(b, needs[1]);
           FER_DISPATCH(a.device(), a.dtype(), matmul_backward, s, a.data<T>(), b.data<T>(), dc.data<T>(),
                        data_or_null<T>(da), data_or_null<T>(db));
           return {da, db};
         });
  return c;
}

}  // namespace fer
