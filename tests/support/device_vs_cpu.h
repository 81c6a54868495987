// REQUIRE_DEVICE_MATCHES_CPU(device, f, args, atol, rtol): runs f on float32 cpu copies of the
// inputs `args` (the _cpu kernels, themselves checked against the references) and on float32 copies on
// `device` (cuda or cuda-sim), backpropagates the same fixed random gradient through both, and
// compares the outputs, every input's gradient, and every input after the call (ops such as
// batch_norm and spectral_normalize update some inputs in place).
#pragma once
#include <functional>
#include <vector>

#include "tests/support/compare.h"

namespace fer::test {

struct DeviceRun {
  Tensor output;
  std::vector<Tensor> inputs;  // the copies f ran on, as f left them
  std::vector<Tensor> grads;   // undefined where the input needs none
};

inline DeviceRun run_on_device(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                               const std::vector<Tensor>& inputs, Device device) {
  DeviceRun run;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      run.inputs.emplace_back();
      continue;
    }
    Tensor copy = t.to(DType::F32).to(device).clone();  // clone: to() may return t itself
    if (t.requires_grad()) copy.set_requires_grad();
    run.inputs.push_back(copy);
  }
  run.output = f(run.inputs);
  if (run.output.requires_grad())
    run.output.backward(random_tensor(run.output.shape(), 4321, -1, 1, DType::F32).to(device));
  for (const Tensor& c : run.inputs) run.grads.push_back(c.defined() && c.requires_grad() ? c.grad() : Tensor());
  return run;
}

}  // namespace fer::test

#define REQUIRE_DEVICE_MATCHES_CPU(device, f, args, atol, rtol)                                          \
  do {                                                                                                  \
    const auto fer_dev_ = ::fer::test::run_on_device(f, args, device);                                  \
    const auto fer_cpu_ = ::fer::test::run_on_device(f, args, ::fer::Device::CPU);                      \
    REQUIRE_CLOSE(fer_dev_.output, fer_cpu_.output, atol, rtol);                                        \
    for (size_t fer_i_ = 0; fer_i_ < fer_cpu_.inputs.size(); ++fer_i_) {                                \
      INFO("input " << fer_i_);                                                                         \
      if (fer_cpu_.inputs[fer_i_].defined())                                                          \
        REQUIRE_CLOSE(fer_dev_.inputs[fer_i_], fer_cpu_.inputs[fer_i_], atol, rtol);                    \
      REQUIRE(fer_dev_.grads[fer_i_].defined() == fer_cpu_.grads[fer_i_].defined());                    \
      if (fer_cpu_.grads[fer_i_].defined())                                                           \
        REQUIRE_CLOSE(fer_dev_.grads[fer_i_], fer_cpu_.grads[fer_i_], atol, rtol);                      \
    }                                                                                                   \
  } while (0)
