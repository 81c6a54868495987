// Copies behind slice, concat and index_select: references and OpenMP CPU paths.
// Every op is a set of contiguous row copies (std::copy_n, a memmove for these types); _ref runs
// all rows, _cpu splits the rows over threads when there is enough data to move.
// index_select_backward adds rows, and several indices may name the same row: the threads split
// the COLUMNS instead, so that no two threads ever write the same element.
#include <algorithm>

#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/parallel.h"

namespace fer {

namespace {

// Copies rows [begin, end) of `length` elements between buffers with the given row strides.
template <typename T>
void copy_rows(int64_t length, const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t begin,
               int64_t end) {
  for (int64_t r = begin; r < end; ++r) std::copy_n(src + r * src_stride, length, dst + r * dst_stride);
}

// Rows to copy per thread so that each thread moves at least kElementwiseGrain elements.
int64_t row_grain(int64_t length) { return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(length, 1)); }

// The slice is, per outer index, one contiguous block of length * inner elements; in the full
// tensor the blocks sit axis_size * inner apart, starting at start * inner.
template <typename T>
void slice_out_rows(const SliceShape& s, const T* full, T* part, int64_t begin, int64_t end) {
  const int64_t block = s.length * s.inner;
  copy_rows(block, full + s.start * s.inner, s.axis_size * s.inner, part, block, begin, end);
}
template <typename T>
void slice_in_rows(const SliceShape& s, const T* part, T* full, int64_t begin, int64_t end) {
  const int64_t block = s.length * s.inner;
  copy_rows(block, part, block, full + s.start * s.inner, s.axis_size * s.inner, begin, end);
}

template <typename T>
void gather_rows(int64_t row_size, const int64_t* indices, const T* x, T* y, int64_t begin, int64_t end) {
  for (int64_t k = begin; k < end; ++k) std::copy_n(x + indices[k] * row_size, row_size, y + k * row_size);
}

template <typename T>
void scatter_add_columns(int64_t row_size, const int64_t* indices, int64_t count, const T* grad_y, T* grad_x,
                         int64_t begin, int64_t end) {
  for (int64_t k = 0; k < count; ++k) {
    const T* src = grad_y + k * row_size;
    T* dst = grad_x + indices[k] * row_size;
    for (int64_t j = begin; j < end; ++j) dst[j] += src[j];
  }
}

}  // namespace

template <typename T>
void slice_forward_ref(const SliceShape& s, const T* x, T* y) {
  slice_out_rows(s, x, y, 0, s.outer);
}
void slice_forward_cpu(const SliceShape& s, const float* x, float* y) {
  parallel_ranges(s.outer, row_grain(s.length * s.inner),
                  [&](int64_t b, int64_t e) { slice_out_rows(s, x, y, b, e); });
}

template <typename T>
void slice_backward_ref(const SliceShape& s, const T* grad_y, T* grad_x) {
  slice_in_rows(s, grad_y, grad_x, 0, s.outer);
}
void slice_backward_cpu(const SliceShape& s, const float* grad_y, float* grad_x) {
  parallel_ranges(s.outer, row_grain(s.length * s.inner),
                  [&](int64_t b, int64_t e) { slice_in_rows(s, grad_y, grad_x, b, e); });
}

template <typename T>
void index_select_forward_ref(int64_t row_size, const int64_t* indices, int64_t count, const T* x, T* y) {
  gather_rows(row_size, indices, x, y, 0, count);
}
void index_select_forward_cpu(int64_t row_size, const int64_t* indices, int64_t count, const float* x,
                              float* y) {
  parallel_ranges(count, row_grain(row_size),
                  [&](int64_t b, int64_t e) { gather_rows(row_size, indices, x, y, b, e); });
}

template <typename T>
void index_select_backward_ref(int64_t row_size, const int64_t* indices, int64_t count, const T* grad_y,
                               T* grad_x) {
  scatter_add_columns(row_size, indices, count, grad_y, grad_x, 0, row_size);
}
void index_select_backward_cpu(int64_t row_size, const int64_t* indices, int64_t count, const float* grad_y,
                               float* grad_x) {
  parallel_ranges(row_size, row_grain(count), [&](int64_t b, int64_t e) {
    scatter_add_columns(row_size, indices, count, grad_y, grad_x, b, e);
  });
}

#define FER_INSTANTIATE(T)                                                                           \
  template void slice_forward_ref<T>(const SliceShape&, const T*, T*);                               \
  template void slice_backward_ref<T>(const SliceShape&, const T*, T*);                              \
  template void index_select_forward_ref<T>(int64_t, const int64_t*, int64_t, const T*, T*);         \
  template void index_select_backward_ref<T>(int64_t, const int64_t*, int64_t, const T*, T*);
FER_INSTANTIATE(float)
FER_INSTANTIATE(double)
#undef FER_INSTANTIATE

}  // namespace fer
