// Optimizers (kernels: kernels/optim/): SGD and Adam, as torch.optim computes them.
//
// An optimizer holds handles to the parameters (aliasing the model's data and grads) and one
// state buffer set per parameter, created at construction on the parameter's device. step()
// updates, in one kernel call, every parameter that has a gradient (the others, like PyTorch's
// params whose .grad is None, are skipped and keep their state). No autograd is recorded.
//
// state_dict() names tensors "<i>.<buffer>" with i the parameter's index ("0.exp_avg",
// "3.momentum_buffer") plus "lr" and, for Adam, "<i>.step" (float64 [1]): everything a
// checkpoint needs to continue bit-identically. load_state_dict checks names and shapes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fer::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;
  virtual void step() = 0;
  void zero_grad();  // drops every parameter's gradient
  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }

  std::map<std::string, Tensor> state_dict() const;
  // Copies the values into this optimizer's state; names and shapes must match exactly.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Registers a per-parameter buffer (zeros like the parameter) named "<i>.<name>".
  void add_state(const std::string& name);
  Tensor& state(size_t param_index, const std::string& name);
  // Per-parameter scalars live in float64 [1] cpu tensors named "<i>.<name>".
  void add_counter(const std::string& name);
  std::vector<size_t> params_with_grad() const;

 private:
  std::vector<Tensor> params_;
  double lr_;
  std::map<std::string, Tensor> state_;  // "<i>.<name>" -> tensor
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SgdOptions options);
  std::string type_name() const override { return "SGD"; }
  void step() override;

  const SgdOptions options;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // L2 added to the gradient (torch.optim.Adam), not decoupled
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options);
  std::string type_name() const override { return "Adam"; }
  void step() override;

  const AdamOptions options;
};

}  // namespace fer::optim
