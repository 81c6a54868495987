// The adversarial losses of the method (docs/design.md "The method"), built from engine ops so that
// autograd differentiates them. None needs a double backward.
#pragma once
#include "engine/tensor.h"

namespace fer::train {

// Hinge loss of a discriminator: mean(relu(1 - real)) + mean(relu(1 + fake)).
Tensor hinge_discriminator(const Tensor& real_logits, const Tensor& fake_logits);
// Hinge loss of a generator: -mean(fake).
Tensor hinge_generator(const Tensor& fake_logits);
// Logistic loss pushing logits toward `target` (1: "from the prior", 0: "from the encoder").
Tensor logistic(const Tensor& logits, double target);

}  // namespace fer::train
