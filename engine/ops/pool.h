// Pooling (kernels: kernels/pool/). x [N,C,H,W].
#pragma once
#include "engine/tensor.h"

namespace fer {

// Window `kernel`, `stride`, zero `padding` (padded cells never win a max and count as zeros
// in the average, as PyTorch's count_include_pad=True). Output [(H + 2p - k)/s + 1, ...].
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
// Mean over H and W: [N,C,H,W] -> [N,C].
Tensor global_avg_pool(const Tensor& x);

}  // namespace fer
