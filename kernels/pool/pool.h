// Pooling kernels: max, average (count_include_pad) and global average pooling.
//
// Layout: x [batch, channels, height, width], y [batch, channels, out_height, out_width], both
// contiguous; a plane is one (n, c) pair. Windows start at oh * stride - padding; padded cells
// never win a max and count as zeros in the average (every window lies inside the padded input,
// so the divisor is always kernel * kernel, as PyTorch's count_include_pad=True).
// Max pooling backward routes each dy to the argmax of its window, recomputed from x (first
// maximum in row-major window order wins ties), so no index tensor is kept between the passes.
//
// Threads: the _cpu versions run the same per-plane code as _ref<float> with the planes split
// across OpenMP threads (windows never cross planes, so no two threads write the same dx); max
// pooling's _cpu path finds the argmax of interior windows without bounds checks or branches,
// and runs 2x2 stride-2 windows without padding (the recognizer's) a row of windows at a time in
// vector loops.
//
// Backward writes: dx is overwritten (zeroed, then the window contributions added; the 2x2
// stride-2 path writes each cell once: its dy where it won its window, else 0).
#pragma once
#include <cstdint>

namespace fer {

struct PoolShape {
  int64_t batch;
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t kernel;
  int64_t stride;
  int64_t padding;
  int64_t out_height;  // (height + 2 padding - kernel) / stride + 1
  int64_t out_width;
};

template <typename T>
void max_pool2d_forward_ref(const T* x, T* y, const PoolShape& shape);
void max_pool2d_forward_cpu(const float* x, float* y, const PoolShape& shape);
template <typename T>
void max_pool2d_backward_ref(const T* x, const T* dy, T* dx, const PoolShape& shape);
void max_pool2d_backward_cpu(const float* x, const float* dy, float* dx, const PoolShape& shape);

template <typename T>
void avg_pool2d_forward_ref(const T* x, T* y, const PoolShape& shape);
void avg_pool2d_forward_cpu(const float* x, float* y, const PoolShape& shape);
template <typename T>
void avg_pool2d_backward_ref(const T* dy, T* dx, const PoolShape& shape);
void avg_pool2d_backward_cpu(const float* dy, float* dx, const PoolShape& shape);

// [planes, spatial] -> [planes]: the mean of each plane; backward dx = dy / spatial.
struct GlobalPoolShape {
  int64_t planes;   // batch * channels
  int64_t spatial;  // height * width
};

template <typename T>
void global_avg_pool_forward_ref(const T* x, T* y, const GlobalPoolShape& shape);
void global_avg_pool_forward_cpu(const float* x, float* y, const GlobalPoolShape& shape);
template <typename T>
void global_avg_pool_backward_ref(const T* dy, T* dx, const GlobalPoolShape& shape);
void global_avg_pool_backward_cpu(const float* dy, float* dx, const GlobalPoolShape& shape);

}  // namespace fer
