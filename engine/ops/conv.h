// Convolutions (kernels: kernels/conv/). Layouts: x [N,C,H,W], weight OIHW [K,C,R,S] for conv2d,
// [C_in, C_out, R, S] for conv_transpose2d (PyTorch's layout), bias [K] or undefined.
#pragma once
#include "engine/tensor.h"

namespace fer {

struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
};

struct ConvTranspose2dOptions {
  int stride = 1;
  int padding = 0;
  int output_padding = 0;
};

// Output [N, K, (H + 2p - R)/s + 1, (W + 2p - S)/s + 1].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options);
// Output [N, C_out, (H-1)s - 2p + R + output_padding, ...].
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        ConvTranspose2dOptions options);

}  // namespace fer
