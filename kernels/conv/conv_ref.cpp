// The plain-loop reference convolution (one loop nest per direction), the shape helpers and the
// per-channel bias loops. Single-threaded on purpose: it is the readable definition that the
// optimized versions are tested against, and the float64 path of the gradient checks.
#include "kernels/conv/conv.h"

namespace fer {

ConvShape conv_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S,
                     int64_t stride, int64_t pad) {
  ConvShape s{N, C, H, W, K, R, S, stride, pad, 0, 0};
  // Floor division that stays correct when the padded input is smaller than the kernel.
  auto out_size = [&](int64_t in, int64_t kernel) {
    const int64_t span = in + 2 * pad - kernel;
    return span < 0 ? 0 : span / stride + 1;
  };
  s.OH = out_size(H, R);
  s.OW = out_size(W, S);
  return s;
}

ConvShape conv_transpose_shape(int64_t N, int64_t C_in, int64_t H_in, int64_t W_in, int64_t C_out,
                               int64_t R, int64_t S, int64_t stride, int64_t pad,
                               int64_t output_padding) {
  const int64_t H_out = (H_in - 1) * stride - 2 * pad + R + output_padding;
  const int64_t W_out = (W_in - 1) * stride - 2 * pad + S + output_padding;
  return ConvShape{N, C_out, H_out, W_out, C_in, R, S, stride, pad, H_in, W_in};
}

template <typename T>
void conv2d_forward_ref(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y) {
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          T acc = bias ? bias[k] : T(0);
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t r = 0; r < s.R; ++r)
              for (int64_t q = 0; q < s.S; ++q) {
                const int64_t ih = oh * s.stride - s.pad + r, iw = ow * s.stride - s.pad + q;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += weight[((k * s.C + c) * s.R + r) * s.S + q] *
                       x[((n * s.C + c) * s.H + ih) * s.W + iw];
              }
          y[((n * s.K + k) * s.OH + oh) * s.OW + ow] = acc;
        }
}

// Scatter form: every output gradient adds its share to the inputs its window read.
template <typename T>
void conv2d_backward_data_ref(const ConvShape& s, const T* dy, const T* weight, T* dx) {
  for (int64_t i = 0; i < s.N * s.C * s.H * s.W; ++i) dx[i] = 0;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const T g = dy[((n * s.K + k) * s.OH + oh) * s.OW + ow];
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t r = 0; r < s.R; ++r)
              for (int64_t q = 0; q < s.S; ++q) {
                const int64_t ih = oh * s.stride - s.pad + r, iw = ow * s.stride - s.pad + q;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                dx[((n * s.C + c) * s.H + ih) * s.W + iw] += weight[((k * s.C + c) * s.R + r) * s.S + q] * g;
              }
        }
}

template <typename T>
void conv2d_backward_filter_ref(const ConvShape& s, const T* x, const T* dy, T* dweight, T* dbias) {
  if (dweight) {
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t r = 0; r < s.R; ++r)
          for (int64_t q = 0; q < s.S; ++q) {
            T acc = 0;
            for (int64_t n = 0; n < s.N; ++n)
              for (int64_t oh = 0; oh < s.OH; ++oh)
                for (int64_t ow = 0; ow < s.OW; ++ow) {
                  const int64_t ih = oh * s.stride - s.pad + r, iw = ow * s.stride - s.pad + q;
                  if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                  acc += dy[((n * s.K + k) * s.OH + oh) * s.OW + ow] * x[((n * s.C + c) * s.H + ih) * s.W + iw];
                }
            dweight[((k * s.C + c) * s.R + r) * s.S + q] = acc;
          }
  }
  channel_sums(s.N, s.K, s.OH * s.OW, dy, dbias);
}

template <typename T>
void add_channel_bias(int64_t N, int64_t channels, int64_t spatial, const T* bias, T* y) {
  if (!bias) return;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      T* row = y + (n * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i) row[i] += bias[c];
    }
}

template <typename T>
void channel_sums(int64_t N, int64_t channels, int64_t spatial, const T* dy, T* dbias) {
  if (!dbias) return;
  for (int64_t c = 0; c < channels; ++c) {
    T acc = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* row = dy + (n * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i) acc += row[i];
    }
    dbias[c] = acc;
  }
}

#define FER_INSTANTIATE_CONV_REF(T)                                                                 \
  template void conv2d_forward_ref<T>(const ConvShape&, const T*, const T*, const T*, T*);          \
  template void conv2d_backward_data_ref<T>(const ConvShape&, const T*, const T*, T*);              \
  template void conv2d_backward_filter_ref<T>(const ConvShape&, const T*, const T*, T*, T*);        \
  template void add_channel_bias<T>(int64_t, int64_t, int64_t, const T*, T*);                       \
  template void channel_sums<T>(int64_t, int64_t, int64_t, const T*, T*);
FER_INSTANTIATE_CONV_REF(float)
FER_INSTANTIATE_CONV_REF(double)
#undef FER_INSTANTIATE_CONV_REF

}  // namespace fer
