// Elementwise kernels on the GPU (both builds: fer::cuda by nvcc, fer::cudasim on the simulator):
// unary maps, broadcasting binary ops, dropout, and the row copies behind slice, concat and
// index_select. Layout and what each backward writes: elementwise.h; derivations: docs/kernels.md
// "elementwise". Every kernel is memory-bound: the variants differ in how they move bytes.
//
// v1, the naive port: grid-stride loops, one float per thread per step; broadcasting binary ops
//   rebuild the operand offsets of every element (kernels/elementwise/strided_cuda.h).
// v2, vectorized (the default):
//   unary, dropout, same-shape binary: float4 loads and stores, kUnroll float4s in flight per
//     thread (all loads issued before the first store), when every pointer is 16-byte aligned
//     (tensors from the allocator are; an unaligned pointer takes the v1 kernel);
//   broadcasting binary: each thread takes 4 consecutive outputs, builds the operand offsets once
//     and steps them with an odometer, in 32-bit index arithmetic when the tensor allows; when
//     the innermost axis is a multiple of 4 (e.g. [N, C, H, W] op [1, C, 1, 1]), the 4 outputs
//     are one float4 store and each operand one float4 or one broadcast float (strided_cuda.h);
//   slice/concat/index_select copies: float4 rows when rows and their starts are 16-byte aligned.
// One variant only, as nothing else pays:
//   index_select backward (scatter-add): one thread per column walks the index list in order, so
//     repeated indices add in the order of the CPU reference without atomics: deterministic, and
//     bitwise equal to the CPU. Parallelism is the row size (the model's rows are wide).
// Dropout draws random_uniform(seed, offset + i) (kernels/common/random.h) as the CPU does, and
// compares and scales in float: the masks and values are bitwise identical on every device.
//
// Variant choice: set_elementwise_variant (elementwise_cuda.h), per process, default 2.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>

#include "kernels/runtime/cuda_api.h"
#include "kernels/common/cuda_reduce.h"
#include "kernels/common/random.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "kernels/elementwise/strided_cuda.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/launch.h"

namespace fer::FER_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 2048;
constexpr int kUnroll = 4;  // float4s in flight per thread: 64 bytes of loads outstanding
std::atomic<int> selected_variant{2};

bool use_v2() { return selected_variant.load() == 2; }

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

unsigned grid_for(int64_t work_items) { return std::min<unsigned>(blocks_for(work_items, kThreads), kMaxBlocks); }

__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }

// ---- the maps: y[i] = f(i, x[i]) and y[i] = f(u[i], v[i]) --------------------------------------

template <typename F>
__device__ __forceinline__ float4 apply4(const F& f, int64_t i, float4 v) {
  return make_float4(f(i, v.x), f(i + 1, v.y), f(i + 2, v.z), f(i + 3, v.w));
}
template <typename F>
__device__ __forceinline__ float4 apply4(const F& f, float4 u, float4 v) {
  return make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
}

template <typename F>
__global__ void __launch_bounds__(kThreads) map_kernel_v1(int64_t n, const float* x, float* y, F f) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = f(i, x[i]);
}

template <typename F>
__global__ void __launch_bounds__(kThreads) zip_kernel_v1(int64_t n, const float* u, const float* v, float* y, F f) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = f(u[i], v[i]);
}

// Quad q covers elements 4q .. 4q+3; the n % 4 last elements go to the first threads.
template <typename F>
__global__ void __launch_bounds__(kThreads) map_kernel_v2(int64_t n, const float* x, float* y, F f) {
  const int64_t quads = n / 4, step = grid_threads();
  int64_t q = global_thread();
  for (; q + (kUnroll - 1) * step < quads; q += kUnroll * step) {
    float4 in[kUnroll];
    for (int u = 0; u < kUnroll; ++u) in[u] = load4(x + 4 * (q + u * step));
    for (int u = 0; u < kUnroll; ++u) store4(y + 4 * (q + u * step), apply4(f, 4 * (q + u * step), in[u]));
  }
  for (; q < quads; q += step) store4(y + 4 * q, apply4(f, 4 * q, load4(x + 4 * q)));
  const int64_t tail = 4 * quads + global_thread();
  if (tail < n) y[tail] = f(tail, x[tail]);
}

template <typename F>
__global__ void __launch_bounds__(kThreads) zip_kernel_v2(int64_t n, const float* u, const float* v, float* y, F f) {
  const int64_t quads = n / 4, step = grid_threads();
  int64_t q = global_thread();
  for (; q + (kUnroll - 1) * step < quads; q += kUnroll * step) {
    float4 a[kUnroll], b[kUnroll];
    for (int k = 0; k < kUnroll; ++k) {
      a[k] = load4(u + 4 * (q + k * step));
      b[k] = load4(v + 4 * (q + k * step));
    }
    for (int k = 0; k < kUnroll; ++k) store4(y + 4 * (q + k * step), apply4(f, a[k], b[k]));
  }
  for (; q < quads; q += step) store4(y + 4 * q, apply4(f, load4(u + 4 * q), load4(v + 4 * q)));
  const int64_t tail = 4 * quads + global_thread();
  if (tail < n) y[tail] = f(u[tail], v[tail]);
}

// Blocks for the v2 maps: kUnroll quads per thread, and at least one block when 0 < n < 4 (the
// tail elements need a thread).
unsigned grid_for_quads(int64_t n) {
  return n == 0 ? 0 : grid_for(std::max<int64_t>(1, (n / 4 + kUnroll - 1) / kUnroll));
}

template <typename F>
void map(int64_t n, const float* x, float* y, const F& f) {
  if (use_v2() && aligned16(x) && aligned16(y)) {
    launch_kernel(map_kernel_v2<F>, grid_for_quads(n), kThreads, 0, n, x, y, f);
  } else {
    launch_kernel(map_kernel_v1<F>, grid_for(n), kThreads, 0, n, x, y, f);
  }
}

template <typename F>
void zip(int64_t n, const float* u, const float* v, float* y, const F& f) {
  if (use_v2() && aligned16(u) && aligned16(v) && aligned16(y)) {
    launch_kernel(zip_kernel_v2<F>, grid_for_quads(n), kThreads, 0, n, u, v, y, f);
  } else {
    launch_kernel(zip_kernel_v1<F>, grid_for(n), kThreads, 0, n, u, v, y, f);
  }
}

// ---- unary functors: the expressions of the CPU reference, in float ---------------------------

struct AffineForward {
  float a, b;
  __device__ float operator()(int64_t, float v) const { return a * v + b; }
};
struct ReluForward {
  __device__ float operator()(int64_t, float v) const { return v > 0 ? v : 0.0f; }
};
struct LeakyReluForward {
  float slope;
  __device__ float operator()(int64_t, float v) const { return v > 0 ? v : slope * v; }
};
struct TanhForward {
  __device__ float operator()(int64_t, float v) const { return tanhf(v); }
};
struct SigmoidForward {
  __device__ float operator()(int64_t, float v) const { return 1.0f / (1.0f + expf(-v)); }
};
struct ClampForward {
  float lo, hi;
  __device__ float operator()(int64_t, float v) const { return v < lo ? lo : (v > hi ? hi : v); }
};

// Backward functors take (the saved value the derivative needs, grad_y); affine's needs none.
struct AffineBackward {
  float a;
  __device__ float operator()(int64_t, float g) const { return a * g; }
};
// Relu and leaky relu take x or y, whichever unary_backward_reads_output names: the same sign.
struct ReluBackward {
  __device__ float operator()(float v, float g) const { return v > 0 ? g : 0.0f; }
};
struct LeakyReluBackward {
  float slope;
  __device__ float operator()(float v, float g) const { return v > 0 ? g : slope * g; }
};
struct TanhBackward {
  __device__ float operator()(float y, float g) const { return g * (1.0f - y * y); }
};
struct SigmoidBackward {
  __device__ float operator()(float y, float g) const { return g * y * (1.0f - y); }
};
struct ClampBackward {
  float lo, hi;
  __device__ float operator()(float x, float g) const { return x >= lo && x <= hi ? g : 0.0f; }
};

struct Dropout {
  uint64_t seed, offset;
  float threshold, scale;
  __device__ float operator()(int64_t i, float v) const {
    return random_uniform(seed, offset + static_cast<uint64_t>(i)) >= threshold ? v * scale : 0.0f;
  }
};

// ---- binary ---------------------------------------------------------------------------------

struct AddOp {
  __device__ float operator()(float u, float v) const { return u + v; }
};
struct SubOp {
  __device__ float operator()(float u, float v) const { return u - v; }
};
struct MulOp {
  __device__ float operator()(float u, float v) const { return u * v; }
};
struct DivOp {
  __device__ float operator()(float u, float v) const { return u / v; }
};

template <typename Visit>
void visit_binary_op(BinaryOp op, const Visit& visit) {
  switch (op) {
    case BinaryOp::Add: return visit(AddOp{});
    case BinaryOp::Sub: return visit(SubOp{});
    case BinaryOp::Mul: return visit(MulOp{});
    case BinaryOp::Div: return visit(DivOp{});
  }
}

template <typename Op>
struct BinaryForwardAt {
  const float* a;
  const float* b;
  float* out;
  Op op;
  template <typename I>
  __device__ void operator()(I i, const I* at) const {
    out[i] = op(a[at[0]], b[at[1]]);
  }
  template <typename I>
  __device__ void quad(I i, const I* at, const StridedShape<2>& s) const {
    const float4 u = gather4(a + at[0], static_cast<I>(s.strides[0][s.ndim - 1]));
    const float4 v = gather4(b + at[1], static_cast<I>(s.strides[1][s.ndim - 1]));
    store4(out + i, make_float4(op(u.x, v.x), op(u.y, v.y), op(u.z, v.z), op(u.w, v.w)));
  }
};

// The per-element gradients of mul and div, written as the CPU reference writes them.
struct BinaryGradients {
  bool mul;
  __device__ float wrt_a(float, float v, float g) const { return mul ? g * v : g / v; }
  __device__ float wrt_b(float u, float v, float g) const { return mul ? g * u : -g * u / (v * v); }
};

struct BinaryBackwardAt {
  const float *a, *b, *g;
  float *ga, *gb;
  BinaryGradients grad;
  template <typename I>
  __device__ void operator()(I i, const I* at) const {
    const float u = a[at[0]], v = b[at[1]];
    if (ga) ga[i] = grad.wrt_a(u, v, g[i]);
    if (gb) gb[i] = grad.wrt_b(u, v, g[i]);
  }
};

// Same-shape backward, v2: one float4 of a, b and grad_out per quad; the n % 4 tail by the first
// threads.
__global__ void __launch_bounds__(kThreads) binary_backward_same_shape_kernel_v2(int64_t n, const float* a,
                                                                                  const float* b, const float* g,
                                                                                  float* ga, float* gb,
                                                                                  BinaryGradients grad) {
  const int64_t quads = n / 4;
  for (int64_t q = global_thread(); q < quads; q += grid_threads()) {
    const float4 u = load4(a + 4 * q), v = load4(b + 4 * q), d = load4(g + 4 * q);
    if (ga)
      store4(ga + 4 * q, make_float4(grad.wrt_a(u.x, v.x, d.x), grad.wrt_a(u.y, v.y, d.y),
                                     grad.wrt_a(u.z, v.z, d.z), grad.wrt_a(u.w, v.w, d.w)));
    if (gb)
      store4(gb + 4 * q, make_float4(grad.wrt_b(u.x, v.x, d.x), grad.wrt_b(u.y, v.y, d.y),
                                     grad.wrt_b(u.z, v.z, d.z), grad.wrt_b(u.w, v.w, d.w)));
  }
  const int64_t tail = 4 * quads + global_thread();
  if (tail < n) {
    if (ga) ga[tail] = grad.wrt_a(a[tail], b[tail], g[tail]);
    if (gb) gb[tail] = grad.wrt_b(a[tail], b[tail], g[tail]);
  }
}

// One merged axis with both strides 1: the operands have the output's shape.
bool same_shape(const StridedShape<2>& s) { return s.ndim == 1 && s.strides[0][0] == 1 && s.strides[1][0] == 1; }

bool all_aligned16(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (p && !aligned16(p)) return false;
  return true;
}

// ---- row copies: slice, concat, index_select -------------------------------------------------

// Row r starts at base + r * stride.
struct StridedRows {
  const float* base;
  int64_t stride;
  __device__ const float* operator()(int64_t r) const { return base + r * stride; }
  bool aligned16() const { return ::fer::FER_CUDA_NS::aligned16(base) && stride % 4 == 0; }
};
struct WritableRows {
  float* base;
  int64_t stride;
  __device__ float* operator()(int64_t r) const { return base + r * stride; }
  bool aligned16() const { return ::fer::FER_CUDA_NS::aligned16(base) && stride % 4 == 0; }
};
// Row r is row index[r] of base (index: device memory).
struct IndexedRows {
  const float* base;
  const int64_t* index;
  int64_t row_size;
  __device__ const float* operator()(int64_t r) const { return base + index[r] * row_size; }
  bool aligned16() const { return ::fer::FER_CUDA_NS::aligned16(base) && row_size % 4 == 0; }
};

// Copies `rows` rows of `length` floats (v1: one float per step; v2: one float4, length % 4 == 0).
template <typename Src>
__global__ void __launch_bounds__(kThreads) copy_rows_kernel_v1(int64_t rows, int64_t length, Src src,
                                                                 WritableRows dst) {
  for (int64_t i = global_thread(); i < rows * length; i += grid_threads()) {
    const int64_t r = i / length, c = i % length;
    dst(r)[c] = src(r)[c];
  }
}

template <typename Src>
__global__ void __launch_bounds__(kThreads) copy_rows_kernel_v2(int64_t rows, int64_t length, Src src,
                                                                 WritableRows dst) {
  const int64_t quads_per_row = length / 4;
  for (int64_t q = global_thread(); q < rows * quads_per_row; q += grid_threads()) {
    const int64_t r = q / quads_per_row, c = 4 * (q % quads_per_row);
    store4(dst(r) + c, load4(src(r) + c));
  }
}

template <typename Src>
void copy_rows(int64_t rows, int64_t length, const Src& src, const WritableRows& dst) {
  if (use_v2() && length % 4 == 0 && src.aligned16() && dst.aligned16()) {
    launch_kernel(copy_rows_kernel_v2<Src>, grid_for(rows * length / 4), kThreads, 0, rows, length, src, dst);
  } else {
    launch_kernel(copy_rows_kernel_v1<Src>, grid_for(rows * length), kThreads, 0, rows, length, src, dst);
  }
}

// grad_x[index[k]] += grad_y[k] for k in order: thread j owns column j of every row.
__global__ void __launch_bounds__(kThreads) scatter_add_columns_kernel_v1(int64_t row_size, const int64_t* index,
                                                                           int64_t count, const float* grad_y,
                                                                           float* grad_x) {
  for (int64_t j = global_thread(); j < row_size; j += grid_threads())
    for (int64_t k = 0; k < count; ++k) grad_x[index[k] * row_size + j] += grad_y[k * row_size + j];
}

// The host index list, copied to the device for the duration of one call.
class DeviceIndices {
 public:
  DeviceIndices(const int64_t* host, int64_t count) : buffer_(count) {
    copy_host_to_device(buffer_.get(), host, sizeof(int64_t) * static_cast<size_t>(count));
  }
  const int64_t* get() const { return buffer_.get(); }

 private:
  DeviceBuffer<int64_t> buffer_;
};

}  // namespace

void set_elementwise_variant(int variant) {
  FER_CHECK(variant == 1 || variant == 2)
      << "set_elementwise_variant: variant " << variant << " (the elementwise kernels have 1, 2)";
  selected_variant.store(variant);
}

int elementwise_variant() { return selected_variant.load(); }

void unary_forward_cuda(UnaryOp op, UnaryParams p, int64_t n, const float* x, float* y) {
  const float a = static_cast<float>(p.a), b = static_cast<float>(p.b);
  switch (op) {
    case UnaryOp::Affine: return map(n, x, y, AffineForward{a, b});
    case UnaryOp::Relu: return map(n, x, y, ReluForward{});
    case UnaryOp::LeakyRelu: return map(n, x, y, LeakyReluForward{a});
    case UnaryOp::Tanh: return map(n, x, y, TanhForward{});
    case UnaryOp::Sigmoid: return map(n, x, y, SigmoidForward{});
    case UnaryOp::Clamp: return map(n, x, y, ClampForward{a, b});
  }
}

void unary_backward_cuda(UnaryOp op, UnaryParams p, int64_t n, const float* x, const float* y,
                         const float* grad_y, float* grad_x) {
  const float a = static_cast<float>(p.a), b = static_cast<float>(p.b);
  const bool reads_y = unary_backward_reads_output(op, p);
  FER_CHECK(op == UnaryOp::Affine || (reads_y ? y : x) != nullptr)
      << "unary_backward: the derivative of this op reads " << (reads_y ? "y" : "x") << ", which is null (n=" << n
      << ")";
  const float* sign = reads_y ? y : x;  // relu, leaky relu: y and x have the same sign
  switch (op) {
    case UnaryOp::Affine: return map(n, grad_y, grad_x, AffineBackward{a});
    case UnaryOp::Relu: return zip(n, sign, grad_y, grad_x, ReluBackward{});
    case UnaryOp::LeakyRelu: return zip(n, sign, grad_y, grad_x, LeakyReluBackward{a});
    case UnaryOp::Tanh: return zip(n, y, grad_y, grad_x, TanhBackward{});
    case UnaryOp::Sigmoid: return zip(n, y, grad_y, grad_x, SigmoidBackward{});
    case UnaryOp::Clamp: return zip(n, x, grad_y, grad_x, ClampBackward{a, b});
  }
}

void binary_forward_cuda(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b, float* out) {
  visit_binary_op(op, [&](auto f) {
    if (same_shape(shape)) {
      zip(shape.numel, a, b, out, f);
    } else if (use_v2() && strided_quads_apply(shape, {a, b, out})) {
      for_each_strided_quad(shape, BinaryForwardAt<decltype(f)>{a, b, out, f});
    } else {
      for_each_strided(selected_variant.load(), shape, BinaryForwardAt<decltype(f)>{a, b, out, f});
    }
  });
}

void binary_backward_cuda(BinaryOp op, const StridedShape<2>& shape, const float* a, const float* b,
                          const float* grad_out, float* grad_a_full, float* grad_b_full) {
  FER_CHECK(op == BinaryOp::Mul || op == BinaryOp::Div)
      << "binary_backward: only mul and div have a per-element gradient kernel (shape of " << shape.numel
      << " elements)";
  const BinaryGradients grad{op == BinaryOp::Mul};
  if (use_v2() && same_shape(shape) && all_aligned16({a, b, grad_out, grad_a_full, grad_b_full})) {
    launch_kernel(binary_backward_same_shape_kernel_v2, grid_for_quads(shape.numel), kThreads, 0, shape.numel, a,
                  b, grad_out, grad_a_full, grad_b_full, grad);
    return;
  }
  for_each_strided(selected_variant.load(), shape, BinaryBackwardAt{a, b, grad_out, grad_a_full, grad_b_full, grad});
}

// The threshold and scale are the CPU's float values (elementwise.cpp, dropout_range).
void dropout_forward_cuda(int64_t n, double p, uint64_t seed, uint64_t offset, const float* x, float* y) {
  map(n, x, y, Dropout{seed, offset, static_cast<float>(p), static_cast<float>(1.0 / (1.0 - p))});
}

// The backward applies the same mask and scale to the gradient: it is the forward on grad_y.
void dropout_backward_cuda(int64_t n, double p, uint64_t seed, uint64_t offset, const float* grad_y,
                           float* grad_x) {
  dropout_forward_cuda(n, p, seed, offset, grad_y, grad_x);
}

// Per outer index, the slice is one block of length * inner floats; in the full tensor the blocks
// sit axis_size * inner apart, from start * inner on.
void slice_forward_cuda(const SliceShape& s, const float* x, float* y) {
  const int64_t block = s.length * s.inner;
  copy_rows(s.outer, block, StridedRows{x + s.start * s.inner, s.axis_size * s.inner}, WritableRows{y, block});
}

void slice_backward_cuda(const SliceShape& s, const float* grad_y, float* grad_x) {
  const int64_t block = s.length * s.inner;
  copy_rows(s.outer, block, StridedRows{grad_y, block}, WritableRows{grad_x + s.start * s.inner, s.axis_size * s.inner});
}

void index_select_forward_cuda(int64_t row_size, const int64_t* indices, int64_t count, const float* x, float* y) {
  if (count == 0 || row_size == 0) return;
  const DeviceIndices index(indices, count);
  copy_rows(count, row_size, IndexedRows{x, index.get(), row_size}, WritableRows{y, row_size});
}

void index_select_backward_cuda(int64_t row_size, const int64_t* indices, int64_t count, const float* grad_y,
                                float* grad_x) {
  if (count == 0 || row_size == 0) return;
  const DeviceIndices index(indices, count);
  launch_kernel(scatter_add_columns_kernel_v1, grid_for(row_size), kThreads, 0, row_size, index.get(), count, grad_y,
                grad_x);
}

}  // namespace fer::FER_CUDA_NS
