// The CPU forward of 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) (conv_winograd.cpp);
// conv2d_forward_cpu uses it where winograd_applies. Layouts as conv.h (NCHW, weight [K,C,3,3]).
#pragma once
#include "kernels/conv/conv.h"

namespace fer {

// 3x3 filters, stride 1, padding <= 2, at least 8 input and 8 output channels, C * K >= 2048.
bool winograd_applies(const ConvShape& s);
// y [N,K,OH,OW] = conv(x, weight), without bias; s must satisfy winograd_applies.
void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* weight, float* y);

}  // namespace fer
