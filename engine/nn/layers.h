// The layers the models are built from, with PyTorch's default initializations.
//
// Initialization (drawn from the RandomStream passed to the constructor, weight first, then bias,
// then the spectral-norm vector): weights kaiming_uniform(a = sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in is
// in*k*k for Conv2d, weight.size(1)*k*k = out*k*k for ConvTranspose2d (PyTorch computes it from
// the [C_in, C_out, k, k] weight that way), `in` for Linear. Norm layers start at weight 1, bias 0.
// Layers are created on the cpu in float32; Module::to moves them.
//
// Spectral normalization (option spectral_norm): the parameter "weight" is the unnormalized
// weight, the buffer "weight_u" [rows] the persistent left singular vector (N(0,1), normalized);
// each forward uses weight / sigma, and each training forward runs one power iteration.
#pragma once
#include <memory>
#include <vector>

#include "engine/nn/module.h"
#include "engine/random.h"

namespace fer::nn {

struct ConvOptions {
  int stride = 1;
  int padding = 0;
  int output_padding = 0;  // ConvTranspose2d only
  bool bias = true;
  bool spectral_norm = false;
};

// x [N, in, H, W] -> [N, out, H', W']; weight [out, in, k, k], bias [out].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int kernel, RandomStream& rng, ConvOptions options = {});
  std::string type_name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) override;
  Tensor effective_weight();  // weight, or weight / sigma under spectral norm

  const ConvOptions options;
  Tensor& weight;
  Tensor& bias;      // undefined without bias
  Tensor& weight_u;  // undefined without spectral norm
};

// x [N, in, H, W] -> [N, out, (H-1)s - 2p + k + output_padding, ...]; weight [in, out, k, k].
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int kernel, RandomStream& rng,
                  ConvOptions options = {});
  std::string type_name() const override { return "ConvTranspose2d"; }
  Tensor forward(const Tensor& x) override;
  Tensor effective_weight();

  const ConvOptions options;
  Tensor& weight;
  Tensor& bias;
  Tensor& weight_u;
};

struct LinearOptions {
  bool bias = true;
  bool spectral_norm = false;
};

// x [N, in] -> [N, out]; weight [out, in], bias [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, RandomStream& rng, LinearOptions options = {});
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;
  Tensor effective_weight();

  const LinearOptions options;
  Tensor& weight;
  Tensor& bias;
  Tensor& weight_u;
};

struct BatchNormOptions {
  double momentum = 0.1;
  double eps = 1e-5;
  bool affine = true;
};

// Batch normalization over N (and H, W). Parameters weight, bias [C] (when affine); buffers
// running_mean [C] (0), running_var [C] (1), num_batches_tracked [1] (float32 count; PyTorch
// keeps an int64 scalar). Training: batch statistics, running statistics updated; eval: running.
class BatchNorm : public Module {
 public:
  Tensor forward(const Tensor& x) override;

  const BatchNormOptions options;
  Tensor& weight;
  Tensor& bias;
  Tensor& running_mean;
  Tensor& running_var;
  Tensor& num_batches_tracked;

 protected:
  BatchNorm(int64_t num_features, int64_t input_dims, BatchNormOptions options);

 private:
  int64_t input_dims_;
};

class BatchNorm2d : public BatchNorm {  // x [N, C, H, W]
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm(num_features, 4, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }
};

class BatchNorm1d : public BatchNorm {  // x [N, C]
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
      : BatchNorm(num_features, 2, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }
};

struct InstanceNormOptions {
  double eps = 1e-5;
  bool affine = false;  // PyTorch's default
};

// x [N, C, H, W], each (n, c) plane normalized; weight, bias [C] when affine. No running stats.
class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, InstanceNormOptions options = {});
  std::string type_name() const override { return "InstanceNorm2d"; }
  Tensor forward(const Tensor& x) override;

  const InstanceNormOptions options;
  Tensor& weight;
  Tensor& bias;
};

// Inverted dropout with probability p, active in training mode. The random stream must outlive the
// layer; its (seed, offset) is what a checkpoint saves to replay the same masks.
class Dropout : public Module {
 public:
  Dropout(double p, RandomStream& rng);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;

  const double p;

 private:
  RandomStream& rng_;
};

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope(slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  Tensor forward(const Tensor& x) override;

  const double slope;
};

class Tanh : public Module {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Module {
 public:
  std::string type_name() const override { return "Sigmoid"; }
  Tensor forward(const Tensor& x) override;
};

// [N, ...] -> [N, prod(...)] (axes from start_axis on are merged).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_axis = 1) : start_axis(start_axis) {}
  std::string type_name() const override { return "Flatten"; }
  Tensor forward(const Tensor& x) override;

  const int64_t start_axis;
};

// stride 0 means stride = kernel (PyTorch's default).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int kernel, int stride = 0, int padding = 0);
  std::string type_name() const override { return "MaxPool2d"; }
  Tensor forward(const Tensor& x) override;

  const int kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel, int stride = 0, int padding = 0);
  std::string type_name() const override { return "AvgPool2d"; }
  Tensor forward(const Tensor& x) override;

  const int kernel, stride, padding;
};

// [N, C, H, W] -> [N, C].
class GlobalAvgPool : public Module {
 public:
  std::string type_name() const override { return "GlobalAvgPool"; }
  Tensor forward(const Tensor& x) override;
};

// Applies its children in order; child i is named "i" (state_dict keys "0.weight", ...).
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  Module& operator[](size_t i) const;
};

}  // namespace fer::nn
