// Layer constructors (initialization) and forwards. See layers.h for the initialization rules.
#include "engine/nn/layers.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace fer::nn {

namespace {

// PyTorch's kaiming_uniform(a = sqrt(5)) and its bias rule both reduce to U(+-1/sqrt(fan_in)).
Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, RandomStream& rng) {
  FER_CHECK(fan_in > 0) << "layer initialization: fan_in must be positive for shape " << shape_str(shape);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, rng);
}

Tensor maybe_bias(bool on, int64_t size, int64_t fan_in, RandomStream& rng) {
  return on ? fan_in_uniform({size}, fan_in, rng) : Tensor();
}

// The persistent left vector of spectral normalization: N(0, 1), normalized (as PyTorch).
Tensor maybe_spectral_u(bool on, int64_t rows, RandomStream& rng) {
  if (!on) return Tensor();
  std::vector<float> u = normal({rows}, 0.0, 1.0, rng).to_vector();
  double norm = 0;
  for (float v : u) norm += static_cast<double>(v) * v;
  norm = std::max(std::sqrt(norm), 1e-12);
  for (float& v : u) v = static_cast<float>(v / norm);
  return Tensor::from_vector(u, {rows});
}

Tensor weight_for_forward(const Tensor& weight, Tensor& u, bool training) {
  return u.defined() ? spectral_normalize(weight, u, 1, training) : weight;
}

// stride 0 means "equal to the kernel" (PyTorch's pooling default).
int pooling_stride(int kernel, int stride, const char* layer) {
  FER_CHECK(kernel > 0 && stride >= 0) << layer << ": kernel " << kernel << " must be positive and stride "
                                       << stride << " non-negative";
  return stride == 0 ? kernel : stride;
}

Tensor ones(int64_t size, bool on) { return on ? Tensor::full({size}, 1.0) : Tensor(); }
Tensor zeros(int64_t size, bool on) { return on ? Tensor::zeros({size}) : Tensor(); }

}  // namespace

// ---- convolutions and linear ----------------------------------------------------------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int kernel, RandomStream& rng, ConvOptions options)
    : options(options),
      weight(register_parameter("weight", fan_in_uniform({out_channels, in_channels, kernel, kernel},
                                                         in_channels * kernel * kernel, rng))),
      bias(register_parameter("bias", maybe_bias(options.bias, out_channels, in_channels * kernel * kernel, rng))),
      weight_u(register_buffer("weight_u", maybe_spectral_u(options.spectral_norm, out_channels, rng))) {
  FER_CHECK(options.output_padding == 0) << "Conv2d: output_padding " << options.output_padding
                                         << " applies to ConvTranspose2d only";
}

Tensor Conv2d::effective_weight() { return weight_for_forward(weight, weight_u, is_training()); }

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, effective_weight(), bias, {options.stride, options.padding});
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int kernel, RandomStream& rng,
                                 ConvOptions options)
    : options(options),
      weight(register_parameter("weight", fan_in_uniform({in_channels, out_channels, kernel, kernel},
                                                         out_channels * kernel * kernel, rng))),
      bias(register_parameter("bias", maybe_bias(options.bias, out_channels, out_channels * kernel * kernel, rng))),
      weight_u(register_buffer("weight_u", maybe_spectral_u(options.spectral_norm, in_channels, rng))) {}

Tensor ConvTranspose2d::effective_weight() { return weight_for_forward(weight, weight_u, is_training()); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, effective_weight(), bias, {options.stride, options.padding, options.output_padding});
}

Linear::Linear(int64_t in_features, int64_t out_features, RandomStream& rng, LinearOptions options)
    : options(options),
      weight(register_parameter("weight", fan_in_uniform({out_features, in_features}, in_features, rng))),
      bias(register_parameter("bias", maybe_bias(options.bias, out_features, in_features, rng))),
      weight_u(register_buffer("weight_u", maybe_spectral_u(options.spectral_norm, out_features, rng))) {}

Tensor Linear::effective_weight() { return weight_for_forward(weight, weight_u, is_training()); }

Tensor Linear::forward(const Tensor& x) { return linear(x, effective_weight(), bias); }

// ---- normalization --------------------------------------------------------------------------

BatchNorm::BatchNorm(int64_t num_features, int64_t input_dims, BatchNormOptions options)
    : options(options),
      weight(register_parameter("weight", ones(num_features, options.affine))),
      bias(register_parameter("bias", zeros(num_features, options.affine))),
      running_mean(register_buffer("running_mean", Tensor::zeros({num_features}))),
      running_var(register_buffer("running_var", Tensor::full({num_features}, 1.0))),
      num_batches_tracked(register_buffer("num_batches_tracked", Tensor::zeros({1}))),
      input_dims_(input_dims) {}

Tensor BatchNorm::forward(const Tensor& x) {
  check_dim(x, input_dims_, type_name().c_str(), "input");
  if (is_training()) num_batches_tracked.fill(num_batches_tracked.item() + 1);
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), options.momentum, options.eps);
}

InstanceNorm2d::InstanceNorm2d(int64_t num_features, InstanceNormOptions options)
    : options(options),
      weight(register_parameter("weight", ones(num_features, options.affine))),
      bias(register_parameter("bias", zeros(num_features, options.affine))) {}

Tensor InstanceNorm2d::forward(const Tensor& x) { return instance_norm(x, weight, bias, options.eps); }

// ---- stateless layers -----------------------------------------------------------------------

Dropout::Dropout(double p, RandomStream& rng) : p(p), rng_(rng) {
  FER_CHECK(p >= 0 && p < 1) << "Dropout: probability " << p << " must be in [0, 1)";
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), rng_); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, slope); }
Tensor Tanh::forward(const Tensor& x) { return fer::tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_axis); }

MaxPool2d::MaxPool2d(int kernel, int stride, int padding)
    : kernel(kernel), stride(pooling_stride(kernel, stride, "MaxPool2d")), padding(padding) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding); }

AvgPool2d::AvgPool2d(int kernel, int stride, int padding)
    : kernel(kernel), stride(pooling_stride(kernel, stride, "AvgPool2d")), padding(padding) {}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel, stride, padding); }

Tensor GlobalAvgPool::forward(const Tensor& x) { return global_avg_pool(x); }

// ---- containers -----------------------------------------------------------------------------

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Module& Sequential::operator[](size_t i) const {
  FER_CHECK(i < size()) << "Sequential: index " << i << " out of range for " << size() << " modules";
  return *named_children()[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, child] : named_children()) y = child->forward(y);
  return y;
}

}  // namespace fer::nn
