// Dense layers (kernels: kernels/gemm/).
#pragma once
#include "engine/tensor.h"

namespace fer {

// y = x W^T + b: x [N, in], weight [out, in], bias [out] or undefined -> [N, out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// a [M, K] @ b [K, N] -> [M, N].
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace fer
