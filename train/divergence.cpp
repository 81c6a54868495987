#include "train/divergence.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

namespace fer::train {

namespace {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

}  // namespace

std::string DivergenceWatch::check_loss(const std::string& name, double value) {
  std::deque<double>& recent = recent_[name];
  std::ostringstream why;
  const double typical = std::max(1.0, std::abs(median({recent.begin(), recent.end()})));
  if (!std::isfinite(value)) {
    why << "loss " << name << " is " << value;
  } else if (std::abs(value) > kSpikeFactor * typical) {
    why << "loss " << name << " is " << value << ", over " << kSpikeFactor << " times its recent size "
        << typical << " (the larger of 1 and the median of its last " << recent.size() << " steps)";
  } else {
    recent.push_back(value);
    if (recent.size() > kWindow) recent.pop_front();
  }
  return why.str();
}

std::string DivergenceWatch::check_weights(const std::string& name, const nn::Module& module) {
  for (const auto& [key, parameter] : module.named_parameters()) {
    const std::vector<float> values = parameter.to_vector();
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::isfinite(values[i]) && std::abs(values[i]) <= kWeightLimit) continue;
      std::ostringstream why;
      why << "parameter " << name << "." << key << " is " << values[i] << " at element " << i
          << " (limit " << kWeightLimit << ")";
      return why.str();
    }
  }
  return "";
}

}  // namespace fer::train
