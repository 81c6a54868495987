#include "kernels/common/compare.h"

#include <cmath>
#include <sstream>

namespace fer {

CompareResult compare_values(const double* got, const double* ref, size_t n, double atol, double rtol,
                             const std::string& what) {
  CompareResult result;
  std::ostringstream first;
  size_t worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(got[i] - ref[i]);
    const double allowed = atol + rtol * std::fabs(ref[i]);
    const bool bad = !std::isfinite(got[i]) ? std::isfinite(ref[i]) || got[i] != ref[i] : !(err <= allowed);
    if (std::isfinite(err) && err > result.max_abs_error) result.max_abs_error = err;
    if (!bad) continue;
    const double excess = std::isfinite(err) ? err - allowed : INFINITY;
    if (excess > worst_excess) worst_excess = excess, worst = i;
    if (result.mismatches < 5) first << "\n  [" << i << "] got " << got[i] << " expected " << ref[i];
    ++result.mismatches;
  }
  if (result.mismatches) {
    result.ok = false;
    std::ostringstream s;
    s << what << ": " << result.mismatches << " of " << n << " elements differ (atol " << atol << ", rtol "
      << rtol << "); worst at [" << worst << "]: got " << got[worst] << " expected " << ref[worst]
      << "; first mismatches:" << first.str();
    result.report = s.str();
  }
  return result;
}

CompareResult compare_values(const std::vector<double>& got, const std::vector<double>& ref, double atol,
                             double rtol, const std::string& what) {
  if (got.size() != ref.size()) {
    CompareResult r;
    r.ok = false;
    r.report = what + ": got " + std::to_string(got.size()) + " elements, expected " + std::to_string(ref.size());
    return r;
  }
  return compare_values(got.data(), ref.data(), got.size(), atol, rtol, what);
}

CompareResult compare_values(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                             double rtol, const std::string& what) {
  return compare_values(std::vector<double>(got.begin(), got.end()), std::vector<double>(ref.begin(), ref.end()),
                        atol, rtol, what);
}

}  // namespace fer
