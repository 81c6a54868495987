// Test helpers: tensor comparison (through fer::compare_values) and gradient checks.
#pragma once
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "kernels/common/compare.h"

namespace fer::test {

// Compares two tensors of the same shape on any devices (copied to the host).
CompareResult compare(const Tensor& got, const Tensor& ref, double atol, double rtol,
                      const std::string& what = "tensor");

// Checks the autograd gradient of f with respect to every input that requires grad against
// central finite differences: f is evaluated in float64 on the cpu, the output is contracted with
// a fixed random tensor (seeded), and each input element is perturbed by +-eps.
// Inputs must be float64 cpu tensors. Returns one CompareResult per checked input.
std::vector<CompareResult> gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                     const std::vector<Tensor>& inputs, double eps = 1e-6,
                                     double atol = 1e-7, double rtol = 1e-5);

// Random float64/float32 cpu tensors with values in [lo, hi) from a fixed seed.
Tensor random_tensor(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1,
                     DType dtype = DType::F32);

// Path of a file under tests/fixtures/.
std::string fixture_path(const std::string& name);

}  // namespace fer::test

// REQUIRE_CLOSE(got, ref, atol, rtol): fails with the compare report.
#define REQUIRE_CLOSE(got, ref, atol, rtol)                                           \
  do {                                                                                \
    const ::fer::CompareResult fer_r_ = ::fer::test::compare(got, ref, atol, rtol, #got); \
    INFO(fer_r_.report);                                                              \
    REQUIRE(fer_r_.ok);                                                               \
  } while (0)

// REQUIRE_GRADCHECK(f, inputs...): every input's gradient matches finite differences.
#define REQUIRE_GRADCHECK(f, ...)                                                     \
  do {                                                                                \
    for (const ::fer::CompareResult& fer_r_ : ::fer::test::gradcheck(f, __VA_ARGS__)) { \
      INFO(fer_r_.report);                                                            \
      REQUIRE(fer_r_.ok);                                                             \
    }                                                                                 \
  } while (0)
