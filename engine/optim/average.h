// An exponential moving average of a module's weights (Polyak averaging, as timm's ModelEma and
// torch.optim.swa_utils.AveragedModel(use_buffers=True) compute it):
//
//   average <- decay * average + (1 - decay) * source
//
// for every parameter and every buffer, matched by name (BatchNorm's running statistics are
// averaged with the weights they belong to). `average` is a second module of the same
// architecture, on the same device; it is evaluated and saved like any module. No autograd.
#pragma once
#include <cstdint>

#include "engine/nn/module.h"

namespace fer::optim {

// One update; throws naming the tensor when the two modules' names or shapes differ.
void update_average(nn::Module& average, const nn::Module& source, double decay);

// The decay of update t (0-based): min(decay, (1 + t) / (10 + t)), timm's warm-up, so that the
// first averages are not dominated by the initial weights.
double warmed_up_decay(double decay, int64_t update);

}  // namespace fer::optim
