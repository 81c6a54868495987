// Pooling on the CPU: the reference (_ref<T>) and the OpenMP path (_cpu). See pool.h for the
// layout, the padding rules and what the backward writes.
#include <cstring>

#include "kernels/elementwise/parallel.h"
#include "kernels/pool/pool.h"

namespace fer {

namespace {

// Runs plane(p) for p in [0, planes), split across OpenMP threads when `parallel` and the
// planes' input elements are worth a team.
template <typename F>
void for_each_plane(int64_t planes, int64_t plane_elements, bool parallel, F&& plane) {
#pragma omp parallel for schedule(static) if (parallel && worth_threads(planes * plane_elements))
  for (int64_t p = 0; p < planes; ++p) plane(p);
}

// Calls cell(i) for the in-plane index i of every unpadded cell of window (oh, ow), row-major.
template <typename F>
void for_each_window_cell(const PoolShape& s, int64_t oh, int64_t ow, F&& cell) {
  const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
  for (int64_t h = h0; h < h0 + s.kernel; ++h) {
    if (h < 0 || h >= s.height) continue;
    for (int64_t w = w0; w < w0 + s.kernel; ++w) {
      if (w >= 0 && w < s.width) cell(h * s.width + w);
    }
  }
}

// In-plane index of the first maximum of window (oh, ow). Padding <= kernel / 2 (checked by the
// op) leaves at least one unpadded cell in every window.
template <typename T>
int64_t window_argmax(const T* plane, const PoolShape& s, int64_t oh, int64_t ow) {
  int64_t best = -1;
  for_each_window_cell(s, oh, ow, [&](int64_t i) {
    if (best < 0 || plane[i] > plane[best]) best = i;
  });
  return best;
}

// The _cpu path's window_argmax: windows that lie wholly inside the plane (all of them without
// padding) skip the bounds checks and keep the best value in a register, with a select instead of
// a branch (the comparison is a coin flip on real activations). Same result: first maximum wins.
int64_t fast_window_argmax(const float* plane, const PoolShape& s, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * s.stride - s.padding, w0 = ow * s.stride - s.padding;
  if (h0 < 0 || w0 < 0 || h0 + s.kernel > s.height || w0 + s.kernel > s.width)
    return window_argmax(plane, s, oh, ow);
  int64_t best = h0 * s.width + w0;
  float best_value = plane[best];
  for (int64_t h = h0; h < h0 + s.kernel; ++h)
    for (int64_t i = h * s.width + w0; i < h * s.width + w0 + s.kernel; ++i) {
      const bool better = plane[i] > best_value;
      best = better ? i : best;
      best_value = better ? plane[i] : best_value;
    }
  return best;
}

// The argmax of the reference (plain loops) and of the _cpu path, as callables that inline.
template <typename T>
constexpr auto kPlainArgmax = [](const T* plane, const PoolShape& s, int64_t oh, int64_t ow) {
  return window_argmax(plane, s, oh, ow);
};
constexpr auto kFastArgmax = [](const float* plane, const PoolShape& s, int64_t oh, int64_t ow) {
  return fast_window_argmax(plane, s, oh, ow);
};

int64_t plane_size(const PoolShape& s) { return s.height * s.width; }
int64_t out_plane_size(const PoolShape& s) { return s.out_height * s.out_width; }

// ---- the _cpu path's 2x2 stride-2 windows without padding (the recognizer's) ----------------
// A row of windows at a time: window ow's cells are r0[2ow], r0[2ow+1], r1[2ow], r1[2ow+1] in
// row-major order, compared with selects (first maximum wins, as window_argmax) so that the
// loops vectorize; the backward writes every covered dx cell (its dy or 0) instead of zeroing the
// plane and scattering.

bool is_2x2_stride_2(const PoolShape& s) { return s.kernel == 2 && s.stride == 2 && s.padding == 0; }

void max_2x2_row(const float* r0, const float* r1, int64_t windows, float* y) {
#pragma omp simd
  for (int64_t ow = 0; ow < windows; ++ow) {
    float best = r0[2 * ow];
    best = r0[2 * ow + 1] > best ? r0[2 * ow + 1] : best;
    best = r1[2 * ow] > best ? r1[2 * ow] : best;
    best = r1[2 * ow + 1] > best ? r1[2 * ow + 1] : best;
    y[ow] = best;
  }
}

// The winner is the first cell equal to the window's maximum (the selects above leave the
// maximum equal to exactly one of the cells, the first of equals), or the first cell when that is
// NaN (nothing beats a NaN); `rest` carries dy until a cell takes it. Float selects only: with
// bool masks GCC did not vectorize the loop (and it ran slower than the scalar argmax).
void max_2x2_backward_row(const float* r0, const float* r1, const float* dy, int64_t windows, float* d0, float* d1) {
#pragma omp simd
  for (int64_t ow = 0; ow < windows; ++ow) {
    const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
    float best = a;
    best = b > best ? b : best;
    best = c > best ? c : best;
    best = d > best ? d : best;
    float rest = dy[ow];
    d0[2 * ow] = a < best ? 0.0f : rest;
    rest = a < best ? rest : 0.0f;
    d0[2 * ow + 1] = b == best ? rest : 0.0f;
    rest = b == best ? 0.0f : rest;
    d1[2 * ow] = c == best ? rest : 0.0f;
    rest = c == best ? 0.0f : rest;
    d1[2 * ow + 1] = rest;
  }
}

void max_pool_2x2_forward(const float* x, float* y, const PoolShape& s) {
  for_each_plane(s.batch * s.channels, plane_size(s), true, [&](int64_t p) {
    const float* xp = x + p * plane_size(s);
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      max_2x2_row(xp + 2 * oh * s.width, xp + (2 * oh + 1) * s.width, s.out_width,
                  y + p * out_plane_size(s) + oh * s.out_width);
  });
}

void max_pool_2x2_backward(const float* x, const float* dy, float* dx, const PoolShape& s) {
  for_each_plane(s.batch * s.channels, plane_size(s), true, [&](int64_t p) {
    const float* xp = x + p * plane_size(s);
    float* dxp = dx + p * plane_size(s);
    for (int64_t oh = 0; oh < s.out_height; ++oh) {
      float* d0 = dxp + 2 * oh * s.width;
      max_2x2_backward_row(xp + 2 * oh * s.width, xp + (2 * oh + 1) * s.width,
                           dy + p * out_plane_size(s) + oh * s.out_width, s.out_width, d0, d0 + s.width);
      if (s.width % 2 == 1) d0[s.width - 1] = d0[2 * s.width - 1] = 0.0f;  // the column outside every window
    }
    if (s.height % 2 == 1) std::memset(dxp + (s.height - 1) * s.width, 0, sizeof(float) * static_cast<size_t>(s.width));
  });
}

template <typename T, typename Argmax>
void max_pool2d_forward_impl(const T* x, T* y, const PoolShape& s, bool parallel, Argmax argmax) {
  for_each_plane(s.batch * s.channels, plane_size(s), parallel, [&](int64_t p) {
    const T* xp = x + p * plane_size(s);
    T* yp = y + p * out_plane_size(s);
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow) yp[oh * s.out_width + ow] = xp[argmax(xp, s, oh, ow)];
  });
}

template <typename T, typename Argmax>
void max_pool2d_backward_impl(const T* x, const T* dy, T* dx, const PoolShape& s, bool parallel, Argmax argmax) {
  for_each_plane(s.batch * s.channels, plane_size(s), parallel, [&](int64_t p) {
    const T* xp = x + p * plane_size(s);
    const T* dyp = dy + p * out_plane_size(s);
    T* dxp = dx + p * plane_size(s);
    std::memset(dxp, 0, sizeof(T) * static_cast<size_t>(plane_size(s)));
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow) dxp[argmax(xp, s, oh, ow)] += dyp[oh * s.out_width + ow];
  });
}

template <typename T>
void avg_pool2d_forward_impl(const T* x, T* y, const PoolShape& s, bool parallel) {
  const double window = static_cast<double>(s.kernel * s.kernel);
  for_each_plane(s.batch * s.channels, plane_size(s), parallel, [&](int64_t p) {
    const T* xp = x + p * plane_size(s);
    T* yp = y + p * out_plane_size(s);
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        double sum = 0;
        for_each_window_cell(s, oh, ow, [&](int64_t i) { sum += xp[i]; });
        yp[oh * s.out_width + ow] = static_cast<T>(sum / window);
      }
  });
}

template <typename T>
void avg_pool2d_backward_impl(const T* dy, T* dx, const PoolShape& s, bool parallel) {
  const double window = static_cast<double>(s.kernel * s.kernel);
  for_each_plane(s.batch * s.channels, plane_size(s), parallel, [&](int64_t p) {
    const T* dyp = dy + p * out_plane_size(s);
    T* dxp = dx + p * plane_size(s);
    std::memset(dxp, 0, sizeof(T) * static_cast<size_t>(plane_size(s)));
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        const T share = static_cast<T>(dyp[oh * s.out_width + ow] / window);
        for_each_window_cell(s, oh, ow, [&](int64_t i) { dxp[i] += share; });
      }
  });
}

template <typename T>
void global_avg_pool_forward_impl(const T* x, T* y, const GlobalPoolShape& s, bool parallel) {
  for_each_plane(s.planes, s.spatial, parallel, [&](int64_t p) {
    double sum = 0;
    for (int64_t i = 0; i < s.spatial; ++i) sum += x[p * s.spatial + i];
    y[p] = static_cast<T>(sum / static_cast<double>(s.spatial));
  });
}

template <typename T>
void global_avg_pool_backward_impl(const T* dy, T* dx, const GlobalPoolShape& s, bool parallel) {
  for_each_plane(s.planes, s.spatial, parallel, [&](int64_t p) {
    const T share = static_cast<T>(dy[p] / static_cast<double>(s.spatial));
    for (int64_t i = 0; i < s.spatial; ++i) dx[p * s.spatial + i] = share;
  });
}

}  // namespace

template <typename T>
void max_pool2d_forward_ref(const T* x, T* y, const PoolShape& shape) {
  max_pool2d_forward_impl(x, y, shape, false, kPlainArgmax<T>);
}
void max_pool2d_forward_cpu(const float* x, float* y, const PoolShape& shape) {
  if (is_2x2_stride_2(shape)) return max_pool_2x2_forward(x, y, shape);
  max_pool2d_forward_impl(x, y, shape, true, kFastArgmax);
}
template <typename T>
void max_pool2d_backward_ref(const T* x, const T* dy, T* dx, const PoolShape& shape) {
  max_pool2d_backward_impl(x, dy, dx, shape, false, kPlainArgmax<T>);
}
void max_pool2d_backward_cpu(const float* x, const float* dy, float* dx, const PoolShape& shape) {
  if (is_2x2_stride_2(shape)) return max_pool_2x2_backward(x, dy, dx, shape);
  max_pool2d_backward_impl(x, dy, dx, shape, true, kFastArgmax);
}

template <typename T>
void avg_pool2d_forward_ref(const T* x, T* y, const PoolShape& shape) {
  avg_pool2d_forward_impl(x, y, shape, false);
}
void avg_pool2d_forward_cpu(const float* x, float* y, const PoolShape& shape) {
  avg_pool2d_forward_impl(x, y, shape, true);
}
template <typename T>
void avg_pool2d_backward_ref(const T* dy, T* dx, const PoolShape& shape) {
  avg_pool2d_backward_impl(dy, dx, shape, false);
}
void avg_pool2d_backward_cpu(const float* dy, float* dx, const PoolShape& shape) {
  avg_pool2d_backward_impl(dy, dx, shape, true);
}

template <typename T>
void global_avg_pool_forward_ref(const T* x, T* y, const GlobalPoolShape& shape) {
  global_avg_pool_forward_impl(x, y, shape, false);
}
void global_avg_pool_forward_cpu(const float* x, float* y, const GlobalPoolShape& shape) {
  global_avg_pool_forward_impl(x, y, shape, true);
}
template <typename T>
void global_avg_pool_backward_ref(const T* dy, T* dx, const GlobalPoolShape& shape) {
  global_avg_pool_backward_impl(dy, dx, shape, false);
}
void global_avg_pool_backward_cpu(const float* dy, float* dx, const GlobalPoolShape& shape) {
  global_avg_pool_backward_impl(dy, dx, shape, true);
}

#define FER_POOL_INSTANTIATE(T)                                                            \
  template void max_pool2d_forward_ref<T>(const T*, T*, const PoolShape&);                 \
  template void max_pool2d_backward_ref<T>(const T*, const T*, T*, const PoolShape&);      \
  template void avg_pool2d_forward_ref<T>(const T*, T*, const PoolShape&);                 \
  template void avg_pool2d_backward_ref<T>(const T*, T*, const PoolShape&);                \
  template void global_avg_pool_forward_ref<T>(const T*, T*, const GlobalPoolShape&);      \
  template void global_avg_pool_backward_ref<T>(const T*, T*, const GlobalPoolShape&);
FER_POOL_INSTANTIATE(float)
FER_POOL_INSTANTIATE(double)
#undef FER_POOL_INSTANTIATE

}  // namespace fer
