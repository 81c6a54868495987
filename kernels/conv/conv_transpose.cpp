// Transposed convolution through the conv2d kernels (the duality in conv.h), written once for
// both versions over the conv2d functions of the version. Threads and overwrite semantics are
// those of the conv2d kernels called; the bias loops are single-threaded (one pass over y).
#include "kernels/conv/conv.h"

namespace fer {

namespace {

template <typename T>
using ConvDataFn = void (*)(const ConvShape&, const T*, const T*, T*);
template <typename T>
using ConvForwardFn = void (*)(const ConvShape&, const T*, const T*, const T*, T*);
template <typename T>
using ConvFilterFn = void (*)(const ConvShape&, const T*, const T*, T*, T*);

template <typename T>
void transpose_forward(ConvDataFn<T> conv_backward_data, const ConvShape& s, const T* x,
                       const T* weight, const T* bias, T* y) {
  conv_backward_data(s, x, weight, y);
  add_channel_bias(s.N, s.C, s.H * s.W, bias, y);
}

template <typename T>
void transpose_backward_data(ConvForwardFn<T> conv_forward, const ConvShape& s, const T* dy,
                             const T* weight, T* dx) {
  conv_forward(s, dy, weight, nullptr, dx);
}

// dW[k,c,r,q] = sum x[n,k,oh,ow] * dy[n,c,ih,iw]: conv2d's filter gradient with dy as its input
// and x as its output gradient. The bias belongs to the transposed conv's output channels C.
template <typename T>
void transpose_backward_filter(ConvFilterFn<T> conv_backward_filter, const ConvShape& s, const T* x,
                               const T* dy, T* dweight, T* dbias) {
  if (dweight) conv_backward_filter(s, dy, x, dweight, nullptr);
  channel_sums(s.N, s.C, s.H * s.W, dy, dbias);
}

}  // namespace

template <typename T>
void conv_transpose2d_forward_ref(const ConvShape& s, const T* x, const T* weight, const T* bias, T* y) {
  transpose_forward<T>(conv2d_backward_data_ref<T>, s, x, weight, bias, y);
}
template <typename T>
void conv_transpose2d_backward_data_ref(const ConvShape& s, const T* dy, const T* weight, T* dx) {
  transpose_backward_data<T>(conv2d_forward_ref<T>, s, dy, weight, dx);
}
template <typename T>
void conv_transpose2d_backward_filter_ref(const ConvShape& s, const T* x, const T* dy, T* dweight,
                                          T* dbias) {
  transpose_backward_filter<T>(conv2d_backward_filter_ref<T>, s, x, dy, dweight, dbias);
}

void conv_transpose2d_forward_cpu(const ConvShape& s, const float* x, const float* weight,
                                  const float* bias, float* y) {
  transpose_forward<float>(conv2d_backward_data_cpu, s, x, weight, bias, y);
}
void conv_transpose2d_backward_data_cpu(const ConvShape& s, const float* dy, const float* weight,
                                        float* dx) {
  transpose_backward_data<float>(conv2d_forward_cpu, s, dy, weight, dx);
}
void conv_transpose2d_backward_filter_cpu(const ConvShape& s, const float* x, const float* dy,
                                          float* dweight, float* dbias) {
  transpose_backward_filter<float>(conv2d_backward_filter_cpu, s, x, dy, dweight, dbias);
}

#define FER_INSTANTIATE_CONV_TRANSPOSE_REF(T)                                                          \
  template void conv_transpose2d_forward_ref<T>(const ConvShape&, const T*, const T*, const T*, T*);   \
  template void conv_transpose2d_backward_data_ref<T>(const ConvShape&, const T*, const T*, T*);       \
  template void conv_transpose2d_backward_filter_ref<T>(const ConvShape&, const T*, const T*, T*, T*);
FER_INSTANTIATE_CONV_TRANSPOSE_REF(float)
FER_INSTANTIATE_CONV_TRANSPOSE_REF(double)
#undef FER_INSTANTIATE_CONV_TRANSPOSE_REF

}  // namespace fer
