// Divergence detection: a run whose loss or weights explode stops before it writes a checkpoint,
// so the last checkpoint kept is a good one (docs/design.md "Errors").
//
// A step's loss diverges when it is not finite, or when its magnitude exceeds kSpikeFactor times
// max(1, |median of the last kWindow values of the same loss|): the losses of the method
// (cross-entropies, hinge and logistic losses, L1, the intra-class loss) stay within a few units
// in healthy training, and an exploding run passes 1000 within a step or two. Weights diverge when
// a parameter is not finite or exceeds kWeightLimit in magnitude (the recipe's trained
// parameters stay below 4); they are checked at the end of each epoch, before its checkpoint.
// Buffers are not checked: some are counts.
#pragma once
#include <deque>
#include <map>
#include <string>

#include "engine/nn/module.h"

namespace fer::train {

class DivergenceWatch {
 public:
  static constexpr double kSpikeFactor = 1000;
  static constexpr size_t kWindow = 50;
  static constexpr double kWeightLimit = 1e4;

  // Why `value` of the loss `name` is a divergence, or "" (the value then joins the window).
  std::string check_loss(const std::string& name, double value);
  // Why the parameters of `module` (called `name` in the message) are broken, or "".
  static std::string check_weights(const std::string& name, const nn::Module& module);

 private:
  std::map<std::string, std::deque<double>> recent_;
};

}  // namespace fer::train
