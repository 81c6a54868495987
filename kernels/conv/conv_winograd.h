// CPU forwards by Winograd's minimal filtering (conv_winograd.cpp): 3x3 and 2x2 stride-1
// convolutions, and 4x4 stride-2 ones through their phase planes; conv2d_forward_cpu uses them
// where they apply. Layouts as conv.h (NCHW, weight [K,C,R,S]).
#pragma once
#include "kernels/conv/conv.h"

namespace fer {

// 3x3 filters with padding <= 2 (F(4x4, 3x3)) or 2x2 with padding <= 1 (F(2x2, 2x2)), stride 1,
// at least 8 input and 8 output channels, C * K >= 2048.
bool winograd_applies(const ConvShape& s);
// y [N,K,OH,OW] = conv(x, weight), without bias; s must satisfy winograd_applies.
void conv2d_forward_winograd(const ConvShape& s, const float* x, const float* weight, float* y);
// dweight [K,C,R,S] = the filter gradient (overwritten), without dbias; s as above.
void conv2d_backward_filter_winograd(const ConvShape& s, const float* x, const float* dy, float* dweight);

// 4x4 filters, stride 2, padding 1 (the encoder's and D_img's layers, the decoder's adjoints), run
// as a 2x2 stride-1 convolution over the 4C phase planes of x, when there are at least 64 output
// positions and that convolution satisfies winograd_applies.
bool polyphase_applies(const ConvShape& s);
void conv2d_forward_polyphase(const ConvShape& s, const float* x, const float* weight, float* y);
// Their filter gradient (overwritten), where polyphase_filter_gradient_applies: as
// polyphase_applies, but from 16 output positions on.
bool polyphase_filter_gradient_applies(const ConvShape& s);
void conv2d_backward_filter_polyphase(const ConvShape& s, const float* x, const float* dy, float* dweight);
// Their backward-data (the decoder's forwards): one 2x2 padding-1 convolution of dy into the 4C
// phase planes of dx, interleaved; where there are at least 256 output positions and that
// convolution satisfies winograd_applies.
bool polyphase_backward_data_applies(const ConvShape& s);
void conv2d_backward_data_polyphase(const ConvShape& s, const float* dy, const float* weight, float* dx);

}  // namespace fer
