// Module tree: registration, traversal, state_dict and its checked loading. See module.h.
#include "engine/nn/module.h"

#include <set>
#include <sstream>

#include "engine/autograd.h"

namespace fer::nn {

Tensor Module::forward(const Tensor& x) {
  FER_THROW() << type_name() << " does not take a single input (got " << x.str()
              << "): call its own forward";
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::check_new_name(const std::string& name) const {
  FER_CHECK(!name.empty() && name.find('.') == std::string::npos)
      << type_name() << ": invalid name '" << name << "' (non-empty, no dots)";
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  FER_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_))
      << type_name() << ": the name '" << name << "' is registered twice";
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  if (value.defined()) value.set_requires_grad(true);
  parameters_.emplace_back(name, std::move(value));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  buffers_.emplace_back(name, std::move(value));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name);
  FER_CHECK(child != nullptr) << type_name() << ": child module '" << name << "' is null";
  children_.emplace_back(name, std::move(child));
}

// Own tensors first, then each child's under "child.", as PyTorch orders them.
void Module::collect(NamedTensors& out, const std::string& prefix, bool parameters) const {
  for (const auto& [name, t] : parameters ? parameters_ : buffers_)
    if (t.defined()) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(out, prefix + name + ".", parameters);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect(out, "", true);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect(out, "", false);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : named_parameters()) out.emplace(name, t);
  for (auto& [name, t] : named_buffers()) out.emplace(name, t);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const std::map<std::string, Tensor> own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      mismatched.push_back("'" + name + "': checkpoint " + shape_str(it->second.shape()) + ", model " +
                           shape_str(t.shape()));
    }
  }
  for (const auto& [name, t] : state)
    if (!own.count(name)) unexpected.push_back(name);

  auto join = [](const std::vector<std::string>& names) {
    std::ostringstream s;
    for (size_t i = 0; i < names.size(); ++i) s << (i ? ", " : "") << names[i];
    return s.str();
  };
  std::ostringstream problems;
  if (!mismatched.empty()) problems << " shape mismatch for " << join(mismatched) << ";";
  if (strict && !missing.empty()) problems << " missing keys: " << join(missing) << ";";
  if (strict && !unexpected.empty()) problems << " unexpected keys: " << join(unexpected) << ";";
  FER_CHECK(problems.str().empty()) << type_name() << ".load_state_dict:" << problems.str();

  NoGradGuard no_grad;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    Tensor dst = t;
    dst.copy_from(it->second.to(Device::CPU).to(t.dtype()));
  }
}

template <typename F>
void Module::for_each_slot(const F& f) {
  for (auto& [name, t] : parameters_) f(t);
  for (auto& [name, t] : buffers_) f(t);
  for (auto& [name, child] : children_) child->for_each_slot(f);
}

// Replaces each tensor that `needs` by convert(t) as a fresh leaf; parameters keep requiring
// grad, gradients drop.
template <typename Needs, typename Convert>
void Module::convert_slots(const Needs& needs, const Convert& convert) {
  for_each_slot([&](Tensor& t) {
    if (!t.defined() || !needs(t)) return;
    const bool trainable = t.requires_grad();
    t = convert(t);
    t.set_requires_grad(trainable);
  });
}

void Module::to(Device device) {
  convert_slots([device](const Tensor& t) { return t.device() != device; },
                [device](const Tensor& t) { return t.to(device); });
}

void Module::to(DType dtype) {
  convert_slots([dtype](const Tensor& t) { return t.dtype() != dtype; },
                [dtype](const Tensor& t) { return t.to(dtype); });
}

void Module::zero_grad() {
  for (Tensor t : parameters()) t.zero_grad();
}

void Module::set_requires_grad(bool on) {
  for (Tensor t : parameters()) t.set_requires_grad(on);
}

}  // namespace fer::nn
