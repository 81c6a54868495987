// conv2d and conv_transpose2d: argument checks, dispatch to kernels/conv/, backward recording.
// The backward saves x and the weight (captured by the backward function, released with it).
#include "engine/ops/conv.h"

#include <functional>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_cuda.h"

namespace fer {

namespace {

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Checks what conv2d and conv_transpose2d share: 4-D input and weight, one device and dtype, a
// non-empty batch, a bias of `bias_size` elements when there is one.
void check_conv_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     int64_t bias_size, int stride, int padding) {
  FER_CHECK(x.dim() == 4) << op << ": input must be 4-D [N, C, H, W], got " << shape_str(x.shape());
  FER_CHECK(weight.dim() == 4) << op << ": weight must be 4-D, got " << shape_str(weight.shape())
                               << " (input " << shape_str(x.shape()) << ")";
  FER_CHECK(x.size(0) > 0) << op << ": input " << shape_str(x.shape()) << " has an empty batch";
  FER_CHECK(stride >= 1 && padding >= 0)
      << op << ": stride must be >= 1 and padding >= 0, got stride " << stride << ", padding " << padding;
  check_same_device(x, weight, op);
  check_same_dtype(x, weight, op);
  if (!bias.defined()) return;
  check_same_device(x, bias, op);
  check_same_dtype(x, bias, op);
  FER_CHECK(bias.dim() == 1 && bias.size(0) == bias_size)
      << op << ": bias " << shape_str(bias.shape()) << " does not match weight "
      << shape_str(weight.shape()) << " (expects [" << bias_size << "])";
}

ConvShape conv2d_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  check_conv_args("conv2d", x, weight, bias, weight.dim() == 4 ? weight.size(0) : 0, o.stride, o.padding);
  FER_CHECK(x.size(1) == weight.size(1))
      << "conv2d: input " << shape_str(x.shape()) << " has " << x.size(1) << " channels but weight "
      << shape_str(weight.shape()) << " expects " << weight.size(1);
  const ConvShape s = conv_shape(x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0),
                                 weight.size(2), weight.size(3), o.stride, o.padding);
  FER_CHECK(s.OH >= 1 && s.OW >= 1)
      << "conv2d: kernel " << s.R << "x" << s.S << " of weight " << shape_str(weight.shape())
      << " is larger than input " << shape_str(x.shape()) << " padded by " << o.padding;
  return s;
}

ConvShape conv_transpose2d_shape(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const ConvTranspose2dOptions& o) {
  check_conv_args("conv_transpose2d", x, weight, bias, weight.dim() == 4 ? weight.size(1) : 0, o.stride,
                  o.padding);
  FER_CHECK(x.size(1) == weight.size(0))
      << "conv_transpose2d: input " << shape_str(x.shape()) << " has " << x.size(1)
      << " channels but weight " << shape_str(weight.shape()) << " expects " << weight.size(0);
  FER_CHECK(o.output_padding >= 0 && o.output_padding < o.stride)
      << "conv_transpose2d: output_padding " << o.output_padding << " must be in [0, stride "
      << o.stride << ") (input " << shape_str(x.shape()) << ")";
  const ConvShape s = conv_transpose_shape(x.size(0), x.size(1), x.size(2), x.size(3), weight.size(1),
                                           weight.size(2), weight.size(3), o.stride, o.padding,
                                           o.output_padding);
  FER_CHECK(s.H >= 1 && s.W >= 1)
      << "conv_transpose2d: input " << shape_str(x.shape()) << " with weight " << shape_str(weight.shape())
      << ", stride " << o.stride << ", padding " << o.padding << " gives an empty output " << s.H << "x" << s.W;
  return s;
}

// The profiler's name for a convolution: input, filters, kernel size and stride, as
// "32x64x32x32 k128 r4s2" (a transposed convolution is named by the convolution it is the adjoint of).
std::string profile_detail(const ConvShape& s) {
  return std::to_string(s.N) + "x" + std::to_string(s.C) + "x" + std::to_string(s.H) + "x" + std::to_string(s.W) +
         " k" + std::to_string(s.K) + " r" + std::to_string(s.R) + "s" + std::to_string(s.stride);
}

// The backward bookkeeping both convolutions share; the kernels come as callbacks:
// backward_data(dx) and backward_filter(dweight or undefined, dbias or undefined).
std::vector<Tensor> conv_backward(const Tensor& x, const Tensor& weight, int64_t bias_size,
                                  const std::vector<bool>& needs,
                                  const std::function<void(Tensor&)>& backward_data,
                                  const std::function<void(Tensor&, Tensor&)>& backward_filter) {
  Tensor dx, dweight, dbias;
  if (needs[0]) {
    dx = Tensor::empty_like(x);
    backward_data(dx);
  }
  if (needs[1]) dweight = Tensor::empty_like(weight);
  if (needs[2]) dbias = Tensor::empty({bias_size}, x.dtype(), x.device());
  if (needs[1] || needs[2]) backward_filter(dweight, dbias);
  return {dx, dweight, dbias};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
  const ConvShape s = conv2d_shape(x, weight, bias, options);
  Tensor y = Tensor::empty({s.N, s.K, s.OH, s.OW}, x.dtype(), x.device());
  const profiler::Detail detail([&] { return profile_detail(s); });
  FER_DISPATCH(x.device(), x.dtype(), conv2d_forward, s, x.data<T>(), weight.data<T>(),
               data_or_null<T>(bias), y.data<T>());
  record(y, "conv2d", {x, weight, bias}, [s, x, weight](const Tensor& dy, const std::vector<bool>& needs) {
    const profiler::Detail detail([&] { return profile_detail(s); });
    return conv_backward(
        x, weight, s.K, needs,
        [&](Tensor& dx) {
          FER_DISPATCH(x.device(), x.dtype(), conv2d_backward_data, s, dy.data<T>(), weight.data<T>(),
                       dx.data<T>());
        },
        [&](Tensor& dweight, Tensor& dbias) {
          FER_DISPATCH(x.device(), x.dtype(), conv2d_backward_filter, s, x.data<T>(), dy.data<T>(),
                       data_or_null<T>(dweight), data_or_null<T>(dbias));
        });
  });
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        ConvTranspose2dOptions options) {
  const ConvShape s = conv_transpose2d_shape(x, weight, bias, options);
  Tensor y = Tensor::empty({s.N, s.C, s.H, s.W}, x.dtype(), x.device());
  const profiler::Detail detail([&] { return profile_detail(s); });
  FER_DISPATCH(x.device(), x.dtype(), conv_transpose2d_forward, s, x.data<T>(), weight.data<T>(),
               data_or_null<T>(bias), y.data<T>());
  record(y, "conv_transpose2d", {x, weight, bias},
         [s, x, weight](const Tensor& dy, const std::vector<bool>& needs) {
           const profiler::Detail detail([&] { return profile_detail(s); });
           return conv_backward(
               x, weight, s.C, needs,
               [&](Tensor& dx) {
                 FER_DISPATCH(x.device(), x.dtype(), conv_transpose2d_backward_data, s, dy.data<T>(),
                              weight.data<T>(), dx.data<T>());
               },
               [&](Tensor& dweight, Tensor& dbias) {
                 FER_DISPATCH(x.device(), x.dtype(), conv_transpose2d_backward_filter, s, x.data<T>(),
                              dy.data<T>(), data_or_null<T>(dweight), data_or_null<T>(dbias));
               });
         });
  return y;
}

}  // namespace fer
