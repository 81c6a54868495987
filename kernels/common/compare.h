// The one comparison used by tests and benchmarks (docs/design.md "Conventions", "Tests").
// An element passes when |got - ref| <= atol + rtol * |ref|; NaN or Inf where the reference is
// finite always fails. The report names the worst element and the first mismatches.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace fer {

struct CompareResult {
  bool ok = true;
  size_t mismatches = 0;
  double max_abs_error = 0;
  std::string report;  // empty when ok
};

CompareResult compare_values(const double* got, const double* ref, size_t n, double atol, double rtol,
                             const std::string& what);
CompareResult compare_values(const std::vector<double>& got, const std::vector<double>& ref, double atol,
                             double rtol, const std::string& what);
CompareResult compare_values(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                             double rtol, const std::string& what);

}  // namespace fer
