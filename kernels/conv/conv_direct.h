// CPU 3x3 stride-1 convolutions in AVX2/FMA registers (conv_direct.cpp), for the layers with few
// channels on large planes; conv2d_forward_cpu and conv2d_backward_filter_cpu use them where they
// apply and Winograd does not. Layouts as conv.h (NCHW, weight [K,C,3,3]).
#pragma once
#include "kernels/conv/conv.h"

namespace fer {

// 3x3 filters, stride 1, padding <= 2, on a CPU with AVX2 and FMA.
bool direct_applies(const ConvShape& s);
// y [N,K,OH,OW] = conv(x, weight), without bias; s must satisfy direct_applies.
void conv2d_forward_direct(const ConvShape& s, const float* x, const float* weight, float* y);
// dweight [K,C,3,3] = the filter gradient (overwritten), without dbias; s as above.
void conv2d_backward_filter_direct(const ConvShape& s, const float* x, const float* dy, float* dweight);

}  // namespace fer
