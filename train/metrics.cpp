#include "train/metrics.h"

namespace fer::train {

int64_t Confusion::total() const {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  return n;
}

double Confusion::accuracy() const {
  int64_t right = 0;
  for (int64_t k = 0; k < classes; ++k) right += counts[static_cast<size_t>(k * classes + k)];
  const int64_t n = total();
  return n ? static_cast<double>(right) / static_cast<double>(n) : 0.0;
}

std::vector<double> Confusion::recall() const {
  std::vector<double> out;
  for (int64_t t = 0; t < classes; ++t) {
    int64_t row = 0;
    for (int64_t p = 0; p < classes; ++p) row += counts[static_cast<size_t>(t * classes + p)];
    out.push_back(row ? static_cast<double>(counts[static_cast<size_t>(t * classes + t)]) / static_cast<double>(row) : 0.0);
  }
  return out;
}

nlohmann::json Confusion::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t t = 0; t < classes; ++t)
    rows.push_back(std::vector<int64_t>(counts.begin() + t * classes, counts.begin() + (t + 1) * classes));
  return {{"accuracy", accuracy()}, {"recall", recall()}, {"confusion", rows}};
}

}  // namespace fer::train
