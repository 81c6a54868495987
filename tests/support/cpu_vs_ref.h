// REQUIRE_CPU_MATCHES_REF(f, inputs, atol, rtol): runs f on float32 copies of the float64 inputs
// (the optimized _cpu kernels) and on float64 copies (the _ref<double> kernels), backpropagates
// the same fixed random gradient through both, and compares the outputs and every input's
// gradient (docs/design.md "Conventions", "Tests": every other version against the reference).
#pragma once
#include <functional>
#include <vector>

#include "tests/support/compare.h"

namespace fer::test {

// A float64 leaf that requires grad, values in [lo, hi) from a fixed seed (gradcheck inputs).
inline Tensor random_param(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = random_tensor(shape, seed, lo, hi, DType::F64);
  t.set_requires_grad();
  return t;
}

struct ForwardBackward {
  Tensor output;
  std::vector<Tensor> grads;  // undefined where the input needs none
};

inline ForwardBackward run_forward_backward(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                            const std::vector<Tensor>& inputs, DType dtype) {
  std::vector<Tensor> copies;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      copies.emplace_back();
      continue;
    }
    Tensor copy = t.to(dtype).clone();  // clone: to() may return t itself
    if (t.requires_grad()) copy.set_requires_grad();
    copies.push_back(copy);
  }
  ForwardBackward result{f(copies), {}};
  if (result.output.requires_grad()) result.output.backward(random_tensor(result.output.shape(), 4321, -1, 1, dtype));
  for (const Tensor& c : copies) result.grads.push_back(c.defined() ? c.grad() : Tensor());
  return result;
}

}  // namespace fer::test

#define REQUIRE_CPU_MATCHES_REF(f, inputs, atol, rtol)                                                      \
  do {                                                                                                      \
    const auto fer_cpu_ = ::fer::test::run_forward_backward(f, inputs, ::fer::DType::F32);                  \
    const auto fer_ref_ = ::fer::test::run_forward_backward(f, inputs, ::fer::DType::F64);                  \
    REQUIRE_CLOSE(fer_cpu_.output, fer_ref_.output, atol, rtol);                                            \
    for (size_t fer_i_ = 0; fer_i_ < fer_ref_.grads.size(); ++fer_i_) {                                     \
      INFO("gradient of input " << fer_i_);                                                                 \
      REQUIRE(fer_cpu_.grads[fer_i_].defined() == fer_ref_.grads[fer_i_].defined());                        \
      if (fer_ref_.grads[fer_i_].defined()) REQUIRE_CLOSE(fer_cpu_.grads[fer_i_], fer_ref_.grads[fer_i_], atol, rtol); \
    }                                                                                                       \
  } while (0)
