// Classification metrics: confusion matrix (rows: true class, columns: predicted), accuracy,
// per-class recall.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace fer::train {

struct Confusion {
  int64_t classes = 0;
  std::vector<int64_t> counts;  // classes x classes, row-major

  explicit Confusion(int64_t k = 0) : classes(k), counts(static_cast<size_t>(k * k), 0) {}
  void add(int64_t truth, int64_t predicted) { ++counts[static_cast<size_t>(truth * classes + predicted)]; }
  int64_t total() const;
  double accuracy() const;            // 0 when empty
  std::vector<double> recall() const; // per class; 0 for a class with no sample
  nlohmann::json to_json() const;     // {"accuracy", "recall": [...], "confusion": [[...]]}
};

}  // namespace fer::train
