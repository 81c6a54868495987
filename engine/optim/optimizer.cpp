// SGD and Adam on top of kernels/optim/. See optimizer.h for the state layout.
#include "engine/optim/optimizer.h"

#include <sstream>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/optim/optim.h"
#include "kernels/optim/optim_cuda.h"

namespace fer::optim {

namespace {

std::string key(size_t index, const std::string& name) { return std::to_string(index) + "." + name; }

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  FER_CHECK(!params_.empty()) << "optimizer: no parameters to optimize";
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    FER_CHECK(p.defined() && !p.grad_fn()) << "optimizer: parameter " << i << " must be a defined leaf tensor";
    check_same_device(p, params_[0], "optimizer");
    check_same_dtype(p, params_[0], "optimizer");
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  FER_CHECK(lr >= 0) << "optimizer: learning rate " << lr << " must be non-negative";
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::add_state(const std::string& name) {
  for (size_t i = 0; i < params_.size(); ++i) state_[key(i, name)] = Tensor::zeros_like(params_[i]);
}

void Optimizer::add_counter(const std::string& name) {
  for (size_t i = 0; i < params_.size(); ++i) state_[key(i, name)] = Tensor::zeros({1}, DType::F64);
}

Tensor& Optimizer::state(size_t param_index, const std::string& name) {
  return state_.at(key(param_index, name));
}

std::vector<size_t> Optimizer::params_with_grad() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    FER_CHECK(g.shape() == params_[i].shape() && g.device() == params_[i].device() &&
              g.dtype() == params_[i].dtype())
        << type_name() << ": parameter " << i << " " << params_[i].str() << " has a gradient " << g.str();
    out.push_back(i);
  }
  return out;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out = state_;
  out["lr"] = Tensor::scalar(lr_, DType::F64);
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::map<std::string, Tensor> own = state_dict();
  std::ostringstream problems;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      problems << " missing '" << name << "';";
    } else if (it->second.shape() != t.shape()) {
      problems << " shape mismatch for '" << name << "': checkpoint " << shape_str(it->second.shape())
               << ", optimizer " << shape_str(t.shape()) << ";";
    }
  }
  for (const auto& [name, t] : state)
    if (!own.count(name)) problems << " unexpected '" << name << "';";
  FER_CHECK(problems.str().empty()) << type_name() << ".load_state_dict:" << problems.str();

  for (auto& [name, t] : state_) t.copy_from(state.at(name).to(Device::CPU).to(t.dtype()));
  set_lr(state.at("lr").item());
}

// ---- SGD ------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> params, SgdOptions options) : Optimizer(std::move(params), options.lr), options(options) {
  FER_CHECK(options.momentum >= 0 && options.weight_decay >= 0)
      << "SGD: momentum " << options.momentum << " and weight_decay " << options.weight_decay
      << " must be non-negative";
  FER_CHECK(!options.nesterov || options.momentum > 0) << "SGD: Nesterov momentum needs momentum > 0";
  if (options.momentum != 0) add_state("momentum_buffer");
}

void SGD::step() {
  NoGradGuard no_grad;
  const std::vector<size_t> active = params_with_grad();
  if (active.empty()) return;
  const SgdHyper hyper{lr(), options.momentum, options.weight_decay, options.nesterov};
  auto slices = [&](auto zero) {
    using T = decltype(zero);
    std::vector<SgdSlice<T>> out;
    for (size_t i : active) {
      const Tensor& p = params()[i];
      T* buffer = options.momentum != 0 ? state(i, "momentum_buffer").data<T>() : nullptr;
      out.push_back({p.data<T>(), p.grad().data<T>(), buffer, p.numel()});
    }
    return out;
  };
  const Tensor& first = params()[active[0]];
  FER_DISPATCH(first.device(), first.dtype(), sgd_update, slices(T{}).data(),
               static_cast<int64_t>(active.size()), hyper);
}

// ---- Adam -----------------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Optimizer(std::move(params), options.lr), options(options) {
  FER_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1)
      << "Adam: betas (" << options.beta1 << ", " << options.beta2 << ") must be in [0, 1)";
  FER_CHECK(options.eps >= 0 && options.weight_decay >= 0)
      << "Adam: eps " << options.eps << " and weight_decay " << options.weight_decay << " must be non-negative";
  add_state("exp_avg");
  add_state("exp_avg_sq");
  add_counter("step");
}

void Adam::step() {
  NoGradGuard no_grad;
  const std::vector<size_t> active = params_with_grad();
  if (active.empty()) return;
  for (size_t i : active) {
    Tensor& step = state(i, "step");
    step.fill(step.item() + 1);
  }
  const AdamHyper hyper{lr(), options.beta1, options.beta2, options.eps, options.weight_decay};
  auto slices = [&](auto zero) {
    using T = decltype(zero);
    std::vector<AdamSlice<T>> out;
    for (size_t i : active) {
      const Tensor& p = params()[i];
      out.push_back({p.data<T>(), p.grad().data<T>(), state(i, "exp_avg").data<T>(),
                     state(i, "exp_avg_sq").data<T>(), p.numel(),
                     static_cast<int64_t>(state(i, "step").item())});
    }
    return out;
  };
  const Tensor& first = params()[active[0]];
  FER_DISPATCH(first.device(), first.dtype(), adam_update, slices(T{}).data(),
               static_cast<int64_t>(active.size()), hyper);
}

}  // namespace fer::optim
