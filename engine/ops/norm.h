// Normalization layers (kernels: kernels/norm/).
#pragma once
#include "engine/tensor.h"

namespace fer {

// x [N,C,H,W] or [N,C]. Training: normalizes with the batch statistics (biased variance) and
// updates running_mean/running_var in place (unbiased variance, PyTorch's momentum convention:
// running = (1 - momentum) running + momentum batch). Eval: uses the running statistics.
// weight/bias [C] or undefined (no affine); running stats [C] (may be undefined in training).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps);

// x [N,C,H,W]: normalizes each (n, c) plane over H*W; weight/bias [C] or undefined.
Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);

// Spectral normalization of a weight (any shape, viewed as [rows = shape[0], cols = rest]):
// returns weight / sigma with sigma = u^T W v estimated by power iteration. u [rows] is the
// persistent left vector, updated in place by `power_iterations` steps when training (u, v are
// treated as constants in the backward, as in PyTorch). eps guards the normalizations.
Tensor spectral_normalize(const Tensor& weight, Tensor& u, int power_iterations, bool training,
                          double eps = 1e-12);

}  // namespace fer
