// batch_norm, instance_norm, spectral_normalize: argument checks, dispatch to kernels/norm/,
// and the backward recorded next to each forward.
#include "engine/ops/norm.h"

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/norm/norm.h"
#include "kernels/norm/norm_cuda.h"

namespace fer {

namespace {

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor empty_or_none(bool wanted, const Shape& shape, const Tensor& like) {
  return wanted ? Tensor::empty(shape, like.dtype(), like.device()) : Tensor();
}

// weight/bias/statistics: undefined or [C] on x's device and dtype.
void check_per_channel(const Tensor& t, const Tensor& x, const char* op, const char* what) {
  if (!t.defined()) return;
  check_shape(t, {x.size(1)}, op, what);
  check_same_device(t, x, op);
  check_same_dtype(t, x, op);
}

NormShape norm_shape(const Tensor& x) {
  const int64_t spatial = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  return {x.size(0), x.size(1), spatial};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  FER_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 4))
      << op << ": x must be [N, C] or [N, C, H, W], got " << x.str();
  check_per_channel(weight, x, op, "weight");
  check_per_channel(bias, x, op, "bias");
  check_per_channel(running_mean, x, op, "running_mean");
  check_per_channel(running_var, x, op, "running_var");
  FER_CHECK(running_mean.defined() == running_var.defined())
      << op << ": running_mean and running_var must be given together, got " << running_mean.str() << " and "
      << running_var.str();
  const NormShape shape = norm_shape(x);
  if (training) {
    FER_CHECK(shape.batch * shape.spatial > 1)
        << op << ": training needs more than one value per channel, x is " << shape_str(x.shape());
  } else {
    FER_CHECK(running_mean.defined()) << op << ": eval mode needs running_mean and running_var, x is "
                                      << shape_str(x.shape());
  }
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({shape.channels}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty_like(mean);
  const BatchNormConfig config{training, momentum, eps};
  FER_DISPATCH(x.device(), x.dtype(), batch_norm_forward, x.data<T>(), data_or_null<T>(weight),
               data_or_null<T>(bias), data_or_null<T>(running_mean), data_or_null<T>(running_var), y.data<T>(),
               mean.data<T>(), invstd.data<T>(), shape, config);
  record(y, op, {x, weight, bias},
         [x, weight, mean, invstd, shape, training](const Tensor& dy, const std::vector<bool>& needs) {
           Tensor dx = Tensor::empty_like(x);
           Tensor dweight = empty_or_none(needs[1], {shape.channels}, x);
           Tensor dbias = empty_or_none(needs[2], {shape.channels}, x);
           FER_DISPATCH(x.device(), x.dtype(), batch_norm_backward, x.data<T>(), dy.data<T>(),
                        data_or_null<T>(weight), mean.data<T>(), invstd.data<T>(), dx.data<T>(),
                        data_or_null<T>(dweight), data_or_null<T>(dbias), shape, training);
           return std::vector<Tensor>{dx, dweight, dbias};
         });
  return y;
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "instance_norm";
  check_dim(x, 4, op, "x");
  check_per_channel(weight, x, op, "weight");
  check_per_channel(bias, x, op, "bias");
  const NormShape shape = norm_shape(x);
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({shape.batch * shape.channels}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty_like(mean);
  FER_DISPATCH(x.device(), x.dtype(), instance_norm_forward, x.data<T>(), data_or_null<T>(weight),
               data_or_null<T>(bias), y.data<T>(), mean.data<T>(), invstd.data<T>(), shape, eps);
  record(y, op, {x, weight, bias}, [x, weight, mean, invstd, shape](const Tensor& dy, const std::vector<bool>& needs) {
    Tensor dx = Tensor::empty_like(x);
    Tensor dweight = empty_or_none(needs[1], {shape.channels}, x);
    Tensor dbias = empty_or_none(needs[2], {shape.channels}, x);
    FER_DISPATCH(x.device(), x.dtype(), instance_norm_backward, x.data<T>(), dy.data<T>(), data_or_null<T>(weight),
                 mean.data<T>(), invstd.data<T>(), dx.data<T>(), data_or_null<T>(dweight),
                 data_or_null<T>(dbias), shape);
    return std::vector<Tensor>{dx, dweight, dbias};
  });
  return y;
}

Tensor spectral_normalize(const Tensor& weight, Tensor& u, int power_iterations, bool training, double eps) {
  const char* op = "spectral_normalize";
  FER_CHECK(weight.defined() && weight.dim() >= 1) << op << ": weight must have at least one axis, got "
                                                   << weight.str();
  const SpectralShape shape{weight.size(0), weight.numel() / weight.size(0)};
  check_shape(u, {shape.rows}, op, "u");
  check_same_device(u, weight, op);
  check_same_dtype(u, weight, op);
  FER_CHECK(power_iterations >= 0) << op << ": power_iterations must be >= 0, got " << power_iterations
                                   << " for weight " << shape_str(weight.shape());
  Tensor y = Tensor::empty_like(weight);
  Tensor v = Tensor::empty({shape.cols}, weight.dtype(), weight.device());
  Tensor sigma = Tensor::empty({1}, weight.dtype(), weight.device());
  const SpectralConfig config{power_iterations, training, eps};
  FER_DISPATCH(weight.device(), weight.dtype(), spectral_normalize_forward, weight.data<T>(), u.data<T>(),
               v.data<T>(), sigma.data<T>(), y.data<T>(), shape, config);
  // u is updated in place by later forwards (D runs several times per step): the backward keeps
  // the u of this forward.
  const Tensor u_used = needs_graph({weight}) ? u.clone() : Tensor();
  record(y, op, {weight}, [weight, u_used, v, sigma, shape](const Tensor& dy, const std::vector<bool>&) {
    Tensor dw = Tensor::empty_like(weight);
    FER_DISPATCH(weight.device(), weight.dtype(), spectral_normalize_backward, weight.data<T>(),
                 u_used.data<T>(), v.data<T>(), sigma.data<T>(), dy.data<T>(), dw.data<T>(), shape);
    return std::vector<Tensor>{dw};
  });
  return y;
}

}  // namespace fer
