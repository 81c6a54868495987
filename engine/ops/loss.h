// Losses (kernels: kernels/loss/). All return a scalar tensor of shape [1], mean-reduced.
// Class labels are float32 tensors of integer values [N] (one dtype for every device).
#pragma once
#include "engine/tensor.h"

namespace fer {

// Softmax cross-entropy on logits [N, K] against labels [N] in [0, K).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Binary cross-entropy on logits against targets in [0, 1] of the same shape (stable form).
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets);
Tensor l1_loss(const Tensor& a, const Tensor& b);
Tensor mse_loss(const Tensor& a, const Tensor& b);

}  // namespace fer
