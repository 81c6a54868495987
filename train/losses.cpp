#include "train/losses.h"

#include "engine/ops.h"

namespace fer::train {

Tensor hinge_discriminator(const Tensor& real_logits, const Tensor& fake_logits) {
  return mean(relu(rsub(1.0, real_logits))) + mean(relu(add(fake_logits, 1.0)));
}

Tensor hinge_generator(const Tensor& fake_logits) { return neg(mean(fake_logits)); }

Tensor logistic(const Tensor& logits, double target) {
  return bce_with_logits(logits, Tensor::full(logits.shape(), target, logits.dtype(), logits.device()));
}

}  // namespace fer::train
