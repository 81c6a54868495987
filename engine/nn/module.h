// nn::Module: a tree of layers owning named parameters and buffers (PyTorch's nn.Module, reduced).
//
// A module registers, in order, its parameters (trainable leaves), its buffers (state that is
// saved but not trained, e.g. BatchNorm's running statistics) and its child modules. Names are
// dotted paths through the tree: "encoder.conv1.weight". Registration order is the order of
// parameters(), named_parameters(), named_buffers() and of the optimizer state.
//
// Storage: each parameter and buffer lives in a slot owned by the module; register_* returns a
// reference to the slot that stays valid for the module's lifetime (modules are neither copied
// nor moved: hold them by shared_ptr). Tensors are handles, so the copies parameters() returns
// alias the same data and the same .grad. to(Device)/to(DType) replace the slots' tensors:
// create optimizers after moving a model, as in PyTorch.
// Undefined tensors may be registered (e.g. a bias switched off): they are skipped everywhere.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace fer::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Name of the layer type in messages ("Conv2d").
  virtual std::string type_name() const { return "Module"; }
  // The forward of single-input modules. Modules taking other inputs define their own forward
  // and leave this one, which throws naming the type.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Training mode (BatchNorm statistics, Dropout, spectral norm's power iteration), recursive.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  std::vector<Tensor> parameters() const;  // recursive, registration order
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  int64_t num_parameters() const;

  // Parameters and buffers by dotted name (handles: they alias the module's data).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values into the module's tensors (converting float32/float64 on the cpu). strict: every
  // key must be present and no other key may appear. Nothing is changed when the check fails;
  // the error lists the missing and unexpected keys and, for shape mismatches, both shapes.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void to(Device device);
  void to(DType dtype);
  void zero_grad();                    // drops every parameter's gradient
  void set_requires_grad(bool on);     // freezes (false) or unfreezes every parameter

 protected:
  // Returns the slot; `value` becomes a leaf that requires grad (when defined).
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;
  void collect(NamedTensors& out, const std::string& prefix, bool parameters) const;
  template <typename F>
  void for_each_slot(const F& f);
  template <typename Needs, typename Convert>
  void convert_slots(const Needs& needs, const Convert& convert);

  bool training_ = true;
  std::deque<std::pair<std::string, Tensor>> parameters_;  // deque: push_back keeps references
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace fer::nn
