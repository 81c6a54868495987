// max_pool2d, avg_pool2d, global_avg_pool: argument checks, dispatch to kernels/pool/, and the
// backward recorded next to each forward.
#include "engine/ops/pool.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/pool/pool.h"
#include "kernels/pool/pool_cuda.h"

namespace fer {

namespace {

PoolShape pool_shape(const Tensor& x, int kernel, int stride, int padding, const char* op) {
  check_dim(x, 4, op, "x");
  FER_CHECK(kernel >= 1 && stride >= 1 && padding >= 0)
      << op << ": kernel " << kernel << ", stride " << stride << ", padding " << padding
      << " must be >= 1, >= 1, >= 0 (x " << shape_str(x.shape()) << ")";
  FER_CHECK(2 * padding <= kernel) << op << ": padding " << padding << " must be at most half the kernel "
                                   << kernel << " (x " << shape_str(x.shape()) << ")";
  PoolShape s{x.size(0), x.size(1), x.size(2), x.size(3), kernel, stride, padding, 0, 0};
  FER_CHECK(s.height + 2 * padding >= kernel && s.width + 2 * padding >= kernel)
      << op << ": kernel " << kernel << " is larger than the padded input of x " << shape_str(x.shape())
      << " (padding " << padding << ")";
  s.out_height = (s.height + 2 * padding - kernel) / stride + 1;
  s.out_width = (s.width + 2 * padding - kernel) / stride + 1;
  return s;
}

Shape pooled_shape(const PoolShape& s) { return {s.batch, s.channels, s.out_height, s.out_width}; }

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const PoolShape shape = pool_shape(x, kernel, stride, padding, "max_pool2d");
  Tensor y = Tensor::empty(pooled_shape(shape), x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), max_pool2d_forward, x.data<T>(), y.data<T>(), shape);
  record(y, "max_pool2d", {x}, [x, shape](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = Tensor::empty_like(x);
    FER_DISPATCH(x.device(), x.dtype(), max_pool2d_backward, x.data<T>(), dy.data<T>(), dx.data<T>(), shape);
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const PoolShape shape = pool_shape(x, kernel, stride, padding, "avg_pool2d");
  Tensor y = Tensor::empty(pooled_shape(shape), x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), avg_pool2d_forward, x.data<T>(), y.data<T>(), shape);
  const Shape x_shape = x.shape();
  record(y, "avg_pool2d", {x}, [x_shape, shape](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
    FER_DISPATCH(dy.device(), dy.dtype(), avg_pool2d_backward, dy.data<T>(), dx.data<T>(), shape);
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor global_avg_pool(const Tensor& x) {
  check_dim(x, 4, "global_avg_pool", "x");
  FER_CHECK(x.size(2) * x.size(3) > 0) << "global_avg_pool: empty planes in x " << shape_str(x.shape());
  const GlobalPoolShape shape{x.size(0) * x.size(1), x.size(2) * x.size(3)};
  Tensor y = Tensor::empty({x.size(0), x.size(1)}, x.dtype(), x.device());
  FER_DISPATCH(x.device(), x.dtype(), global_avg_pool_forward, x.data<T>(), y.data<T>(), shape);
  const Shape x_shape = x.shape();
  record(y, "global_avg_pool", {x}, [x_shape, shape](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
    FER_DISPATCH(dy.device(), dy.dtype(), global_avg_pool_backward, dy.data<T>(), dx.data<T>(), shape);
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace fer
