// The kernel benchmark cases (kernel_cases.h). Layer shapes are those of models/ at the default
// configuration and batch 32; each family adds one or two larger shapes (>= 64 MB for the
// memory-bound kernels: the bandwidth target, docs/design.md "Performance targets"). Check and
// Tiny sizes keep the layer's structure (kernel, stride, padding) and shrink batch, channels and
// spatial size.
#include "benchmarks/kernel_cases.h"

#include <algorithm>
#include <array>

#include "kernels/conv/conv_cuda.h"
#include "kernels/elementwise/elementwise_cuda.h"
#include "kernels/gemm/gemm_cuda.h"
#include "kernels/loss/loss_cuda.h"
#include "kernels/norm/norm_cuda.h"
#include "kernels/optim/optim_cuda.h"
#include "kernels/pool/pool_cuda.h"
#include "kernels/rdbp/rdbp_cuda.h"

// The same call for every implementation, as FER_DISPATCH does: op##_ref<float>, op##_cpu, and
// the _cuda twins in fer::cuda and fer::cudasim where the build has them. Arguments use `p`.
#ifdef FER_WITH_CUDA
#define FER_BENCH_CUDA_(op, ...) [=](const Ptrs& p) { ::fer::cuda::op##_cuda(__VA_ARGS__); }
#else
#define FER_BENCH_CUDA_(op, ...) KernelFn()
#endif
#ifdef FER_WITH_CUDA_SIM
#define FER_BENCH_SIM_(op, ...) [=](const Ptrs& p) { ::fer::cudasim::op##_cuda(__VA_ARGS__); }
#else
#define FER_BENCH_SIM_(op, ...) KernelFn()
#endif
#define FER_BENCH_IMPLS(op, ...)                                                         \
  Impls {                                                                                \
    [=](const Ptrs& p) { op##_ref<float>(__VA_ARGS__); }, [=](const Ptrs& p) { op##_cpu(__VA_ARGS__); }, \
        FER_BENCH_CUDA_(op, __VA_ARGS__), FER_BENCH_SIM_(op, __VA_ARGS__)                \
  }

namespace fer::bench {
namespace {

constexpr int64_t kBatch = 32;

int64_t pick(CaseSize size, int64_t full, int64_t check, int64_t tiny) {
  return size == CaseSize::Full ? full : size == CaseSize::Check ? check : tiny;
}
int64_t batch_of(CaseSize size) { return pick(size, kBatch, 1, 2); }
// Channels and spatial sizes keep their value except in Tiny, where they are capped (odd caps,
// so no kernel sees a multiple of its tile size).
int64_t cap(CaseSize size, int64_t value, int64_t tiny_cap) {
  return size == CaseSize::Tiny ? std::min(value, tiny_cap) : value;
}

std::string dims(std::initializer_list<int64_t> values) {
  std::string s;
  for (int64_t v : values) {
    if (!s.empty()) s += 'x';
    s += std::to_string(v);
  }
  return s;
}

// Every buffer read or written once.
double buffer_bytes(const KernelCase& c) {
  double count = 0;
  for (const auto& b : c.inputs) count += static_cast<double>(b.count);
  for (const auto& b : c.outputs) count += static_cast<double>(b.count);
  return 4 * count;
}

KernelCase make_case(std::string family, std::string op, std::string shape, std::vector<BufferSpec> in,
                     std::vector<BufferSpec> out, Impls impls) {
  KernelCase c{std::move(family), std::move(op), std::move(shape), std::move(in), std::move(out), 0, 0, {}, std::move(impls)};
  c.bytes = buffer_bytes(c);
  return c;
}

// ---- conv ----------------------------------------------------------------------------------

struct ConvLayer {
  const char* where;
  int64_t C, H, K, R, stride, pad;  // square images and kernels
};

// Encoder and D_img (k4s2p1), recognizer and identity net (3x3 p1), and one larger layer.
constexpr ConvLayer kConvLayers[] = {
    {"E/D 1", 1, 64, 64, 4, 2, 1},      {"E/D 2", 64, 32, 128, 4, 2, 1},  {"E/D 3", 128, 16, 256, 4, 2, 1},
    {"E/D 4", 256, 8, 512, 4, 2, 1},    {"R 1a", 1, 64, 32, 3, 1, 1},     {"R 1b", 32, 64, 32, 3, 1, 1},
    {"R 2a", 32, 32, 64, 3, 1, 1},      {"R 2b", 64, 32, 64, 3, 1, 1},    {"R 3a", 64, 16, 128, 3, 1, 1},
    {"R 3b", 128, 16, 128, 3, 1, 1},    {"R 4a", 128, 8, 256, 3, 1, 1},   {"R 4b", 256, 8, 256, 3, 1, 1},
    {"large", 128, 64, 128, 3, 1, 1},
};

// Decoder (k4s2p1): C_in at H_in -> C_out at 2 H_in.
struct TransposedLayer {
  const char* where;
  int64_t C_in, H_in, C_out;
};
constexpr TransposedLayer kTransposedLayers[] = {
    {"G 1", 512, 4, 256}, {"G 2", 256, 8, 128}, {"G 3", 128, 16, 64}, {"G 4", 64, 32, 1}};

double conv_flops(const ConvShape& s) { return 2.0 * s.N * s.K * s.OH * s.OW * s.C * s.R * s.S; }

void add_conv_cases(std::vector<KernelCase>& out, CaseSize size) {
  for (const ConvLayer& l : kConvLayers) {
    const ConvShape s = conv_shape(batch_of(size), cap(size, l.C, 3), cap(size, l.H, 9), cap(size, l.H, 9),
                                   cap(size, l.K, 5), l.R, l.R, l.stride, l.pad);
    const std::string shape = std::string(l.where) + " " + dims({s.N, s.C, s.H, s.W}) + " k" + std::to_string(s.K) +
                              " r" + std::to_string(s.R) + "s" + std::to_string(s.stride);
    const int64_t x = s.N * s.C * s.H * s.W, w = s.K * s.C * s.R * s.S, y = s.N * s.K * s.OH * s.OW;
    const int64_t cols = s.N * s.OH * s.OW, patch = s.C * s.R * s.S;
    KernelCase f = make_case("conv", "conv2d_forward", shape, {{"x", x}, {"w", w}, {"b", s.K}}, {{"y", y}},
                             FER_BENCH_IMPLS(conv2d_forward, s, p[0], p[1], p[2], p[3]));
    f.gemm = {s.K, cols, patch};
    KernelCase d = make_case("conv", "conv2d_backward_data", shape, {{"dy", y}, {"w", w}}, {{"dx", x}},
                             FER_BENCH_IMPLS(conv2d_backward_data, s, p[0], p[1], p[2]));
    d.gemm = {patch, cols, s.K};
    KernelCase g = make_case("conv", "conv2d_backward_filter", shape, {{"x", x}, {"dy", y}}, {{"dw", w}, {"db", s.K}},
                             FER_BENCH_IMPLS(conv2d_backward_filter, s, p[0], p[1], p[2], p[3]));
    g.gemm = {s.K, patch, cols};
    for (KernelCase* c : {&f, &d, &g}) {
      c->flops = conv_flops(s);
      out.push_back(std::move(*c));
    }
  }
  for (const TransposedLayer& l : kTransposedLayers) {
    // The conv whose adjoint this layer is: input [N, C_out, 2 H_in], output [N, C_in, H_in].
    const int64_t h_in = cap(size, l.H_in, 5);
    const ConvShape s = conv_transpose_shape(batch_of(size), cap(size, l.C_in, 5), h_in, h_in, cap(size, l.C_out, 3),
                                             4, 4, 2, 1, 0);
    const std::string shape = std::string(l.where) + " " + dims({s.N, s.K, s.OH, s.OW}) + " -> " + dims({s.C, s.H, s.W});
    const int64_t x = s.N * s.K * s.OH * s.OW, w = s.K * s.C * s.R * s.S, y = s.N * s.C * s.H * s.W;
    const int64_t cols = s.N * s.OH * s.OW, patch = s.C * s.R * s.S;
    KernelCase f = make_case("conv", "conv_transpose2d_forward", shape, {{"x", x}, {"w", w}, {"b", s.C}}, {{"y", y}},
                             FER_BENCH_IMPLS(conv_transpose2d_forward, s, p[0], p[1], p[2], p[3]));
    f.gemm = {patch, cols, s.K};
    KernelCase d = make_case("conv", "conv_transpose2d_backward_data", shape, {{"dy", y}, {"w", w}}, {{"dx", x}},
                             FER_BENCH_IMPLS(conv_transpose2d_backward_data, s, p[0], p[1], p[2]));
    d.gemm = {s.K, cols, patch};
    KernelCase g = make_case("conv", "conv_transpose2d_backward_filter", shape, {{"x", x}, {"dy", y}},
                             {{"dw", w}, {"db", s.C}},
                             FER_BENCH_IMPLS(conv_transpose2d_backward_filter, s, p[0], p[1], p[2], p[3]));
    g.gemm = {s.K, patch, cols};
    for (KernelCase* c : {&f, &d, &g}) {
      c->flops = conv_flops(s);
      out.push_back(std::move(*c));
    }
  }
}

// ---- gemm ----------------------------------------------------------------------------------

struct LinearLayer {
  const char* where;
  int64_t in, out;
};
// E's code, G's projection, D_img's heads, R's feature layer, D_z's first layer.
constexpr LinearLayer kLinearLayers[] = {{"E code", 8192, 50},   {"G proj", 57, 8192}, {"D adv", 8192, 1},
                                         {"D cls", 8192, 7},     {"R feat", 256, 256}, {"Dz 1", 50, 64}};

void add_gemm_cases(std::vector<KernelCase>& out, CaseSize size) {
  for (const LinearLayer& l : kLinearLayers) {
    const LinearShape s{batch_of(size), cap(size, l.in, 13), cap(size, l.out, 11)};
    const std::string shape = std::string(l.where) + " " + dims({s.N, s.in}) + " -> " + std::to_string(s.out);
    const int64_t x = s.N * s.in, w = s.out * s.in, y = s.N * s.out;
    KernelCase f = make_case("gemm", "linear_forward", shape, {{"x", x}, {"w", w}, {"b", s.out}}, {{"y", y}},
                             FER_BENCH_IMPLS(linear_forward, s, p[0], p[1], p[2], p[3]));
    f.flops = 2.0 * s.N * s.in * s.out;
    f.gemm = {s.N, s.out, s.in};
    KernelCase b = make_case("gemm", "linear_backward", shape, {{"x", x}, {"w", w}, {"dy", y}},
                             {{"dx", x}, {"dw", w}, {"db", s.out}},
                             FER_BENCH_IMPLS(linear_backward, s, p[0], p[1], p[2], p[3], p[4], p[5]));
    b.flops = 4.0 * s.N * s.in * s.out;
    b.gemm = {s.N, s.in, 2 * s.out};  // two products of the same size as one
    out.push_back(std::move(f));
    out.push_back(std::move(b));
  }
  const int64_t n = pick(size, 2048, 67, 13);
  KernelCase g = make_case("gemm", "gemm", std::string("square ") + dims({n, n, n}), {{"A", n * n}, {"B", n * n}}, {{"C", n * n}},
                           FER_BENCH_IMPLS(gemm, false, false, n, n, n, 1.f, p[0], n, p[1], n, 0.f, p[2], n));
  g.flops = 2.0 * n * n * n;
  g.gemm = {n, n, n};
  out.push_back(std::move(g));
}

// ---- norm ----------------------------------------------------------------------------------

struct NormLayer {
  const char* where;
  int64_t channels, spatial;
};
constexpr NormLayer kBatchNormLayers[] = {{"G 0", 512, 16},  {"G 1", 256, 64},   {"G 2", 128, 256}, {"G 3", 64, 1024},
                                          {"R 1", 32, 4096}, {"R 2", 64, 1024},  {"R 3", 128, 256}, {"R 4", 256, 64},
                                          {"large", 128, 4096}};
constexpr NormLayer kInstanceNormLayers[] = {{"E 2", 128, 256}, {"E 3", 256, 64}, {"E 4", 512, 16}, {"large", 128, 4096}};

NormShape norm_shape(CaseSize size, const NormLayer& l) {
  return {batch_of(size), cap(size, l.channels, 3), cap(size, l.spatial, 15)};
}
std::string norm_label(const NormLayer& l, const NormShape& s) {
  return std::string(l.where) + " " + dims({s.batch, s.channels, s.spatial});
}

void add_norm_cases(std::vector<KernelCase>& out, CaseSize size) {
  for (const NormLayer& l : kBatchNormLayers) {
    const NormShape s = norm_shape(size, l);
    const int64_t n = s.batch * s.channels * s.spatial, c = s.channels;
    const BatchNormConfig config{true, 0.1, 1e-5};
    out.push_back(make_case("norm", "batch_norm_forward", norm_label(l, s),
                            {{"x", n}, {"w", c}, {"b", c}, {"running_mean", c}, {"running_var", c, Fill::Positive}},
                            {{"y", n}, {"save_mean", c}, {"save_invstd", c}},
                            FER_BENCH_IMPLS(batch_norm_forward, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], s, config)));
    out.push_back(make_case("norm", "batch_norm_backward", norm_label(l, s),
                            {{"x", n}, {"dy", n}, {"w", c}, {"save_mean", c}, {"save_invstd", c, Fill::Positive}},
                            {{"dx", n}, {"dw", c}, {"db", c}},
                            FER_BENCH_IMPLS(batch_norm_backward, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], s, true)));
  }
  for (const NormLayer& l : kInstanceNormLayers) {
    const NormShape s = norm_shape(size, l);
    const int64_t n = s.batch * s.channels * s.spatial, c = s.channels, planes = s.batch * s.channels;
    out.push_back(make_case("norm", "instance_norm_forward", norm_label(l, s), {{"x", n}, {"w", c}, {"b", c}},
                            {{"y", n}, {"save_mean", planes}, {"save_invstd", planes}},
                            FER_BENCH_IMPLS(instance_norm_forward, p[0], p[1], p[2], p[3], p[4], p[5], s, 1e-5)));
    out.push_back(make_case("norm", "instance_norm_backward", norm_label(l, s),
                            {{"x", n}, {"dy", n}, {"w", c}, {"save_mean", planes}, {"save_invstd", planes, Fill::Positive}},
                            {{"dx", n}, {"dw", c}, {"db", c}},
                            FER_BENCH_IMPLS(instance_norm_backward, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], s)));
  }
  // D_img's largest weight, [512, 256*4*4], one power iteration per training forward.
  const SpectralShape w{cap(size, 512, 7), cap(size, 4096, 13)};
  const SpectralConfig config{1, true, 1e-12};
  out.push_back(make_case("norm", "spectral_normalize_forward", std::string("D 4 ") + dims({w.rows, w.cols}),
                          {{"w", w.rows * w.cols}, {"u", w.rows}}, {{"v", w.cols}, {"sigma", 1}, {"y", w.rows * w.cols}},
                          FER_BENCH_IMPLS(spectral_normalize_forward, p[0], p[1], p[2], p[3], p[4], w, config)));
}

// ---- elementwise, pool, loss, optim, rdbp --------------------------------------------------

void add_elementwise_cases(std::vector<KernelCase>& out, CaseSize size) {
  const UnaryParams slope{0.2, 0};
  const int64_t layer = batch_of(size) * cap(size, 64, 3) * cap(size, 32, 7) * cap(size, 32, 7);  // E 1's output
  const int64_t large = pick(size, int64_t{16} << 20, 1000, 999);                                  // 64 MB
  for (const auto& [label, n] : {std::pair<std::string, int64_t>{"E 1 lrelu", layer}, {"large", large}}) {
    const std::string shape = label + " " + std::to_string(n);
    out.push_back(make_case("elementwise", "unary_forward", shape, {{"x", n}}, {{"y", n}},
                            FER_BENCH_IMPLS(unary_forward, UnaryOp::LeakyRelu, slope, n, p[0], p[1])));
    out.push_back(make_case("elementwise", "unary_backward", shape, {{"x", n}, {"y", n}, {"dy", n}}, {{"dx", n}},
                            FER_BENCH_IMPLS(unary_backward, UnaryOp::LeakyRelu, slope, n, p[0], p[1], p[2], p[3])));
    const StridedShape<2> same = make_strided_shape<2>({n}, {{n}, {n}});
    out.push_back(make_case("elementwise", "binary_forward", shape + " add", {{"a", n}, {"b", n}}, {{"out", n}},
                            FER_BENCH_IMPLS(binary_forward, BinaryOp::Add, same, p[0], p[1], p[2])));
  }
  // A per-channel scale, [N, C, H, W] * [1, C, 1, 1] (broadcast).
  const int64_t N = batch_of(size), C = cap(size, 64, 3), HW = cap(size, 1024, 15);
  const StridedShape<2> per_channel = make_strided_shape<2>({N, C, HW}, {{N, C, HW}, {1, C, 1}});
  out.push_back(make_case("elementwise", "binary_forward", std::string("G 3 mul ") + dims({N, C, HW}) + " by " + dims({1, C, 1}),
                          {{"a", N * C * HW}, {"b", C}}, {{"out", N * C * HW}},
                          FER_BENCH_IMPLS(binary_forward, BinaryOp::Mul, per_channel, p[0], p[1], p[2])));
}

void add_pool_cases(std::vector<KernelCase>& out, CaseSize size) {
  // The recognizer's max pools (2x2, stride 2) and its global average pool.
  for (const auto& [C, H] : {std::pair<int64_t, int64_t>{32, 64}, {64, 32}, {128, 16}, {256, 8}}) {
    const int64_t c = cap(size, C, 3), h = cap(size, H, 9), N = batch_of(size);
    const PoolShape s{N, c, h, h, 2, 2, 0, h / 2, h / 2};
    const int64_t x = N * c * h * h, y = N * c * (h / 2) * (h / 2);
    const std::string shape = std::string("R ") + dims({N, c, h, h});
    out.push_back(make_case("pool", "max_pool2d_forward", shape, {{"x", x}}, {{"y", y}},
                            FER_BENCH_IMPLS(max_pool2d_forward, p[0], p[1], s)));
    out.push_back(make_case("pool", "max_pool2d_backward", shape, {{"x", x}, {"dy", y}}, {{"dx", x}},
                            FER_BENCH_IMPLS(max_pool2d_backward, p[0], p[1], p[2], s)));
  }
  const GlobalPoolShape g{batch_of(size) * cap(size, 256, 3), cap(size, 16, 5)};
  out.push_back(make_case("pool", "global_avg_pool_forward", std::string("R ") + dims({g.planes, g.spatial}),
                          {{"x", g.planes * g.spatial}}, {{"y", g.planes}},
                          FER_BENCH_IMPLS(global_avg_pool_forward, p[0], p[1], g)));
}

void add_loss_cases(std::vector<KernelCase>& out, CaseSize size) {
  const ClassLossShape s{batch_of(size), 7};
  const int64_t n = s.batch * s.classes;
  out.push_back(make_case("loss", "cross_entropy_forward", std::string("R ") + dims({s.batch, s.classes}),
                          {{"logits", n}, {"labels", s.batch, Fill::Labels, s.classes}}, {{"loss", 1}},
                          FER_BENCH_IMPLS(cross_entropy_forward, p[0], p[1], p[2], s)));
  out.push_back(make_case("loss", "cross_entropy_backward", std::string("R ") + dims({s.batch, s.classes}),
                          {{"logits", n}, {"labels", s.batch, Fill::Labels, s.classes}, {"dloss", 1}}, {{"dlogits", n}},
                          FER_BENCH_IMPLS(cross_entropy_backward, p[0], p[1], p[2], p[3], s)));
  const int64_t count = batch_of(size) * cap(size, 64, 5) * cap(size, 64, 5);  // L1(x_rec, x)
  out.push_back(make_case("loss", "l1_loss_forward", std::string("rec ") + std::to_string(count), {{"a", count}, {"b", count}},
                          {{"loss", 1}}, FER_BENCH_IMPLS(l1_loss_forward, p[0], p[1], p[2], count)));
  out.push_back(make_case("loss", "l1_loss_backward", std::string("rec ") + std::to_string(count),
                          {{"a", count}, {"b", count}, {"dloss", 1}}, {{"da", count}, {"db", count}},
                          FER_BENCH_IMPLS(l1_loss_backward, p[0], p[1], p[2], p[3], p[4], count)));
}

std::array<AdamSlice<float>, 1> adam_slice(const Ptrs& p, int64_t n) {
  return {AdamSlice<float>{p[1], p[0], p[2], p[3], n, 3}};
}

void add_optim_cases(std::vector<KernelCase>& out, CaseSize size) {
  const AdamHyper h{2e-4, 0.5, 0.999, 1e-8, 0};
  // D_img's parameters (about 2.8M) and a 64 MB parameter.
  for (const auto& [label, full] : {std::pair<std::string, int64_t>{"D_img", 2'800'000}, {"large", int64_t{16} << 20}}) {
    const int64_t n = pick(size, full, 4099, 37);
    KernelCase c = make_case("optim", "adam_update", label + " " + std::to_string(n), {{"grad", n}},
                             {{"param", n}, {"exp_avg", n}, {"exp_avg_sq", n, Fill::Positive}},
                             FER_BENCH_IMPLS(adam_update, adam_slice(p, n).data(), 1, h));
    c.bytes = 4.0 * 7 * n;  // grad read; param and both moments read and written
    out.push_back(std::move(c));
  }
}

void add_rdbp_cases(std::vector<KernelCase>& out, CaseSize size) {
  RdbpShape s;
  s.num_real = s.num_synth = batch_of(size);
  s.dim = cap(size, 256, 9);
  s.num_classes = 7;
  const int64_t f = s.num_real * s.dim, k = s.num_classes;
  const std::string shape = std::string("R ") + dims({s.num_real, s.dim}) + " x2";
  const std::vector<BufferSpec> features = {
      {"real", f}, {"real_labels", s.num_real, Fill::Labels, k}, {"synth", f}, {"synth_labels", s.num_synth, Fill::Labels, k}};
  out.push_back(make_case("rdbp", "rdbp_forward", shape, features,
                          {{"running_centers", k * s.dim, Fill::Zero}, {"seen", k, Fill::Zero}, {"centers", k * s.dim},
                           {"has_center", k}, {"loss", 1}, {"term_count", 1}},
                          FER_BENCH_IMPLS(rdbp_forward, s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9])));
  std::vector<BufferSpec> in = features;
  in.push_back({"centers", k * s.dim});
  in.push_back({"has_center", k, Fill::One});
  in.push_back({"term_count", 1, Fill::Positive});
  in.push_back({"grad_loss", 1});
  out.push_back(make_case("rdbp", "rdbp_backward", shape, in, {{"grad_real", f}, {"grad_synth", f}},
                          FER_BENCH_IMPLS(rdbp_backward, s, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9])));
}

}  // namespace

std::vector<KernelCase> kernel_cases(CaseSize size, const std::string& op) {
  std::vector<KernelCase> all;
  add_conv_cases(all, size);
  add_gemm_cases(all, size);
  add_norm_cases(all, size);
  add_elementwise_cases(all, size);
  add_pool_cases(all, size);
  add_loss_cases(all, size);
  add_optim_cases(all, size);
  add_rdbp_cases(all, size);
  if (op.empty()) return all;
  std::vector<KernelCase> chosen;
  for (KernelCase& c : all)
    if (c.family == op || c.op == op) chosen.push_back(std::move(c));
  return chosen;
}

}  // namespace fer::bench
