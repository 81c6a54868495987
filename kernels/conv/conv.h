// 2-D convolution and transposed convolution kernels.
//
// Layout: x [N, C, H, W], weight OIHW [K, C, R, S], bias [K] or nullptr, y [N, K, OH, OW], all
// contiguous. Cross-correlation like PyTorch: y[n,k,oh,ow] = b[k] +
//   sum_{c,r,s} w[k,c,r,s] * x[n, c, oh*stride - pad + r, ow*stride - pad + s] (zero outside).
// Versions:
//   _ref<T>  direct loops, one loop nest per direction (the readable reference; float, double).
//   _cpu     im2col + OpenBLAS SGEMM over chunks of images (conv_cpu.cpp says how the chunk is
//            sized and how the work is split over threads), or where faster Winograd / phase
//            planes (conv_winograd.h) or direct AVX2 3x3 kernels (conv_direct.h).
// Backward: every gradient OVERWRITES its output (dx, dweight, dbias); autograd sums them. A
// nullptr dweight or dbias is skipped.
//
// Transposed convolution is the adjoint of a convolution, so it is described by the ConvShape of
// that convolution (conv_transpose_shape below) and computed by the conv2d kernels:
//   conv_transpose2d forward         = conv2d backward-data   (x plays s's dy, y plays s's dx)
//   conv_transpose2d backward-data   = conv2d forward          (without bias)
//   conv_transpose2d backward-filter = conv2d backward-filter with x and dy swapped.
// Its input x is [N, K, OH, OW], its weight [K, C, R, S] (PyTorch's [C_in, C_out, R, S]), its
// bias [C] and its output y [N, C, H, W]; output_padding only enlarges H and W.
#pragma once
#include <cstdint>

namespace fer {

struct ConvShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t K = 0, R = 0, S = 0;         // K filters of C x R x S
  int64_t stride = 1, pad = 0;
  int64_t OH = 0, OW = 0;              // output
};

// The shape of conv2d on x [N,C,H,W] with K filters R x S; OH, OW may come out < 1 (the caller
// validates).
ConvShape conv_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S,
                     int64_t stride, int64_t pad);
// The convolution whose adjoint is conv_transpose2d on x [N, C_in, H_in, W_in] with weight
// [C_in, C_out, R, S]: its input is the transposed conv's output [N, C_out, H_out, W_out],
// H_out = (H_in - 1) * stride - 2 * pad + R + output_padding, and its output is [N, C_in, H_in, W_in]
// (output_padding < stride makes the sizes consistent).
ConvShape conv_transpose_shape(int64_t N, int64_t C_in, int64_t H_in, int64_t W_in, int64_t C_out,
                               int64_t R, int64_t S, int64_t stride, int64_t pad,
                               int64_t output_padding);

template <typename T>
void conv2d_forward_ref(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y);
template <typename T>
void conv2d_backward_data_ref(const ConvShape& s, const T* dy, const T* weight, T* dx);
template <typename T>
void conv2d_backward_filter_ref(const ConvShape& s, const T* x, const T* dy, T* dweight, T* dbias);

void conv2d_forward_cpu(const ConvShape& s, const float* x, const float* weight, const float* bias,
                        float* y);
// The algorithm of the CPU path's forwards (and of the backward-datas that run as forwards):
// Auto takes Winograd or the phase planes where they apply (conv_winograd.h), the direct AVX2
// kernels for the other 3x3 stride-1 convolutions (conv_direct.h), and im2col + SGEMM elsewhere;
// Im2col always takes im2col + SGEMM. Process-wide, default Auto; for benchmarks
// (`fer bench kernels` times both) and side-by-side measurements.
enum class ConvCpuAlgorithm { Auto, Im2col };
void set_conv_cpu_algorithm(ConvCpuAlgorithm algorithm);
ConvCpuAlgorithm conv_cpu_algorithm();
void conv2d_backward_data_cpu(const ConvShape& s, const float* dy, const float* weight, float* dx);
void conv2d_backward_filter_cpu(const ConvShape& s, const float* x, const float* dy, float* dweight,
                                float* dbias);

// s is conv_transpose_shape(...): x [N,K,OH,OW], weight [K,C,R,S], bias [C] or nullptr,
// y [N,C,H,W].
template <typename T>
void conv_transpose2d_forward_ref(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y);
template <typename T>
void conv_transpose2d_backward_data_ref(const ConvShape& s, const T* dy, const T* weight, T* dx);
template <typename T>
void conv_transpose2d_backward_filter_ref(const ConvShape& s, const T* x, const T* dy, T* dweight,
                                          T* dbias);

void conv_transpose2d_forward_cpu(const ConvShape& s, const float* x, const float* weight,
                                  const float* bias, float* y);
void conv_transpose2d_backward_data_cpu(const ConvShape& s, const float* dy, const float* weight,
                                        float* dx);
void conv_transpose2d_backward_filter_cpu(const ConvShape& s, const float* x, const float* dy,
                                          float* dweight, float* dbias);

// Per-channel bias over [N, channels, spatial] tensors, shared by both versions:
// y[n,c,:] += bias[c] (nothing when bias is nullptr), and dbias[c] = sum of dy[n,c,:].
template <typename T>
void add_channel_bias(int64_t N, int64_t channels, int64_t spatial, const T* bias, T* y);
template <typename T>
void channel_sums(int64_t N, int64_t channels, int64_t spatial, const T* dy, T* dbias);

}  // namespace fer
