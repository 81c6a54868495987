// conv2d and conv_transpose2d on the cpu: hand-computed cases, the adjoint identity between them,
// gradient checks in float64 at odd sizes (stride 1/2/3, padding 0/1/2, output_padding, non-square
// kernels and images), the im2col path against the loops (one chunk, several chunks with a
// remainder, one image per chunk: see images_per_chunk in conv_cpu.cpp), and the shape errors.
#include <omp.h>

#include <vector>

#include "kernels/conv/conv.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_vs_ref.h"

using namespace fer;
using fer::test::random_param;
using fer::test::random_tensor;

namespace {

Tensor values(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

double dot(const Tensor& a, const Tensor& b) {
  const std::vector<double> u = a.to_vector_f64(), v = b.to_vector_f64();
  double s = 0;
  for (size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
  return s;
}

struct ConvCase {
  Shape x, w;
  int stride, padding, output_padding;
  bool bias;
  double atol = 1e-4;  // against the float64 reference (rtol 1e-4)
};

auto conv2d_of(const ConvCase& c) {
  return [c](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {c.stride, c.padding}); };
}
auto conv_transpose2d_of(const ConvCase& c) {
  return [c](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], in[2], {c.stride, c.padding, c.output_padding});
  };
}
// Inputs x, w and (when c.bias) a bias of `bias_size` elements.
std::vector<Tensor> inputs_of(const ConvCase& c, int64_t bias_size) {
  return {random_param(c.x, 1), random_param(c.w, 2), c.bias ? random_param({bias_size}, 3) : Tensor()};
}

}  // namespace

TEST_CASE("conv2d matches hand-computed cases", "[cpu]") {
  const Tensor x = values({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor ones = values({1, 1, 1, 1}, {1, 1, 2, 2});
  REQUIRE_CLOSE(conv2d(x, ones, Tensor(), {1, 0}), values({12, 16, 24, 28}, {1, 1, 2, 2}), 0, 0);
  // Stride 2, padding 1: the windows see 1 | 2,3 / 4,7 | 5,6,8,9; the bias adds 0.5.
  REQUIRE_CLOSE(conv2d(x, ones, values({0.5}, {1}), {2, 1}), values({1.5, 5.5, 11.5, 28.5}, {1, 1, 2, 2}), 0, 0);
  // Two input channels, two 1x1 filters: y0 = 2 x0 - x1, y1 = x1.
  const Tensor x2 = values({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  REQUIRE_CLOSE(conv2d(x2, values({2, -1, 0, 1}, {2, 2, 1, 1}), Tensor(), {1, 0}),
                values({-8, -16, -24, -32, 10, 20, 30, 40}, {1, 2, 2, 2}), 0, 0);
}

TEST_CASE("conv_transpose2d matches hand-computed cases", "[cpu]") {
  // Stride 2 with a 2x2 kernel copies each pixel into a 2x2 block, scaled per output channel.
  const Tensor x = values({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor w = values({1, 1, 1, 1, 2, 2, 2, 2}, {1, 2, 2, 2});
  const Tensor y = conv_transpose2d(x, w, values({0, 0.5}, {2}), {2, 0, 0});
  REQUIRE_CLOSE(y, values({1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,  //
                           2.5, 2.5, 4.5, 4.5, 2.5, 2.5, 4.5, 4.5, 6.5, 6.5, 8.5, 8.5, 6.5, 6.5, 8.5, 8.5},
                          {1, 2, 4, 4}),
                0, 0);
  // Stride 1: the copies overlap and add.
  REQUIRE_CLOSE(conv_transpose2d(values({1, 2}, {1, 1, 1, 2}), values({1, 1, 1, 1}, {1, 1, 2, 2}), Tensor(), {1, 0, 0}),
                values({1, 3, 2, 1, 3, 2}, {1, 1, 2, 3}), 0, 0);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d with the same weight", "[cpu]") {
  // <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>. x's odd sizes 10x9 shrink to 5x4 (the
  // last row and column see no window); output_padding 1 brings them back.
  const Tensor x = random_tensor({2, 3, 10, 9}, 1, -1, 1, DType::F64);
  const Tensor w = random_tensor({5, 3, 3, 4}, 2, -1, 1, DType::F64);
  const Tensor y = random_tensor({2, 5, 5, 4}, 3, -1, 1, DType::F64);
  const Tensor conv = conv2d(x, w, Tensor(), {2, 1});
  const Tensor transposed = conv_transpose2d(y, w, Tensor(), {2, 1, 1});
  REQUIRE(conv.shape() == y.shape());
  REQUIRE(transposed.shape() == x.shape());
  REQUIRE(dot(conv, y) == Approx(dot(x, transposed)).epsilon(1e-12));
}

TEST_CASE("conv2d gradients match finite differences", "[cpu]") {
  const std::vector<ConvCase> cases{
      {{2, 3, 7, 5}, {4, 3, 3, 2}, 1, 0, 0, true},   // non-square kernel and image
      {{2, 3, 7, 5}, {4, 3, 3, 3}, 2, 1, 0, true},   // stride 2, padding 1
      {{1, 2, 5, 6}, {3, 2, 3, 1}, 1, 2, 0, false},  // padding 2, no bias
      {{3, 1, 9, 7}, {5, 1, 4, 4}, 2, 1, 0, true},   // the models' k4 s2 p1
  };
  for (const ConvCase& c : cases) {
    INFO("x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride << ", padding " << c.padding);
    REQUIRE_GRADCHECK(conv2d_of(c), inputs_of(c, c.w[0]));
  }
}

TEST_CASE("conv_transpose2d gradients match finite differences", "[cpu]") {
  const std::vector<ConvCase> cases{
      {{2, 3, 4, 5}, {3, 4, 3, 3}, 1, 0, 0, true},
      {{2, 3, 3, 5}, {3, 2, 4, 4}, 2, 1, 0, true},   // the models' k4 s2 p1
      {{1, 2, 3, 4}, {2, 3, 3, 2}, 2, 1, 1, true},   // output_padding 1, non-square kernel
      {{2, 3, 3, 3}, {3, 1, 3, 3}, 3, 2, 2, false},  // stride 3, padding 2, output_padding 2
  };
  for (const ConvCase& c : cases) {
    INFO("x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride << ", padding "
              << c.padding << ", output_padding " << c.output_padding);
    REQUIRE_GRADCHECK(conv_transpose2d_of(c), inputs_of(c, c.w[1]));
  }
}

TEST_CASE("conv2d cpu path matches the reference, forward and backward", "[cpu]") {
  const std::vector<ConvCase> cases{
      {{11, 17, 31, 33}, {3, 17, 5, 5}, 1, 2, 0, true},  // 1023 px: chunks of 2 (forward), 9 (filter) + rest;
                                                         // C >= K: backward-data as a forward conv
      {{3, 4, 10, 9}, {7, 4, 3, 3}, 1, 1, 0, true},      // C < K: backward-data through col2im
      {{5, 1, 17, 16}, {6, 1, 3, 3}, 1, 1, 0, true},     // C = 1 (the first layer)
      // The direct AVX2 3x3 kernels (C * K below Winograd's): output widths 49 (two 24-column
      // blocks + a 1-column one), 25 and 16 (a masked 2-vector block, a full one), K = 9, 5, 3
      // (register blocks of 4 channels with 3, 1, 3 unused), row groups of 8 with remainders,
      // paddings 1, 0 and 2 (backward-data as a forward with paddings 1, 2, 0):
      {{3, 3, 27, 49}, {9, 3, 3, 3}, 1, 1, 0, true},
      {{2, 5, 12, 27}, {5, 5, 3, 3}, 1, 0, 0, false},
      {{2, 6, 7, 14}, {3, 6, 3, 3}, 1, 2, 0, true},
      {{2, 131, 63, 65}, {2, 131, 3, 3}, 1, 1, 0, true}, // over the column budget: 1 image per chunk
      {{3, 5, 9, 11}, {6, 5, 4, 4}, 2, 1, 0, true},      // the whole batch in one chunk
      {{3, 2, 11, 7}, {4, 2, 5, 2}, 2, 2, 0, false},   // padding wider than the kernel's reach
      {{2, 3, 5, 5}, {3, 3, 1, 1}, 1, 0, 0, true},     // 1x1
      // Winograd F(4x4, 3x3) forward and filter gradient (3x3, stride 1, C * K >= 2048), and
      // backward-data as its adjoint forward: output sizes that leave partial tiles (13x11: 4x3
      // tiles with 3 and 1 spare rows), paddings 0, 1 and 2, C < K and C > K, input widths of
      // every residue mod 4 against the padding (the split into column phases).
      {{3, 40, 13, 11}, {52, 40, 3, 3}, 1, 1, 0, true},  // 13x11 outputs
      {{2, 48, 7, 6}, {64, 48, 3, 3}, 1, 0, 0, true},    // padding 0 (the adjoint's is 2), C < K
      {{2, 64, 5, 9}, {40, 64, 3, 3}, 1, 2, 0, false},   // padding 2: 7x11 outputs, C > K
      {{2, 32, 6, 8}, {72, 32, 3, 3}, 1, 1, 0, true},    // exactly 2x2 tiles; width 8 = 0 mod 4
      {{2, 64, 3, 2}, {40, 64, 3, 3}, 1, 1, 0, true},    // one tile larger than the 3x2 output
      {{3, 48, 1, 1}, {48, 48, 3, 3}, 1, 2, 0, false},   // a 1x1 input padded by 2 (the adjoint: 3x3 -> 1x1)
      // Chunks of 14 images + 1. F(4x4, 3x3)'s transforms (entries up to 8, 5, 1/24) round to
      // about 1e-6 of the sum of the terms' magnitudes: per output 576 products of mean 1/4
      // (about 144; errors up to 2e-4), per filter tap 7935 (about 2000; errors up to 8e-4, on
      // filter gradients of typical size 30), where F(2x2, 3x3)'s stayed under 1e-4.
      {{15, 64, 23, 23}, {64, 64, 3, 3}, 1, 1, 0, true, 2e-3},
      // 4x4 stride-2 padding-1 forwards as F(2x2, 2x2) over the phase planes (4C * K >= 2048,
      // >= 64 output positions):
      {{3, 16, 17, 19}, {40, 16, 4, 4}, 2, 1, 0, true},  // odd input sizes, 8x9 outputs
      {{2, 32, 16, 16}, {64, 32, 4, 4}, 2, 1, 0, false}, // the models' even sizes
      {{3, 32, 8, 9}, {24, 32, 4, 4}, 2, 1, 0, true},    // 4x4 outputs: the filter gradient only
      // and their backward-data as one 2x2 convolution into the phase planes (>= 256 outputs):
      {{2, 16, 33, 35}, {40, 16, 4, 4}, 2, 1, 0, true},  // odd input sizes, 16x17 outputs
      {{82, 128, 18, 18}, {16, 128, 4, 4}, 2, 1, 0, false}, // phase planes of 81 + 1 images: the
                                                            // filter gradient adds the second group
  };
  for (const fer::ConvCpuAlgorithm algorithm : {fer::ConvCpuAlgorithm::Auto, fer::ConvCpuAlgorithm::Im2col}) {
    fer::set_conv_cpu_algorithm(algorithm);
    for (const ConvCase& c : cases) {
      INFO("x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride << ", padding "
                << c.padding << ", im2col only " << (algorithm == fer::ConvCpuAlgorithm::Im2col));
      REQUIRE_CPU_MATCHES_REF(conv2d_of(c), inputs_of(c, c.w[0]), c.atol, 1e-4);
    }
  }
  fer::set_conv_cpu_algorithm(fer::ConvCpuAlgorithm::Auto);
}

TEST_CASE("conv2d cpu path splits images, whole chunks and filter-gradient slices over 3 threads, as the reference", "[cpu]") {
  // 3 threads split the images unevenly. With im2col, 48x48 outputs are one image per chunk, 13
  // chunks: the forward (and the backward-data, a forward since C >= K) hands whole chunks to the
  // threads; the small filter gradients sum one partial per thread over slices of 4, 4 and 5 (or
  // 2, 2, 3) images. The direct 3x3 kernels (Auto) split the images the same way, the filter
  // gradient's lane sums one set per thread.
  const std::vector<ConvCase> cases{
      {{13, 4, 48, 48}, {4, 4, 3, 3}, 1, 1, 0, true},
      {{7, 1, 33, 31}, {5, 1, 4, 4}, 2, 1, 0, true},  // C = 1: the whole batch in one chunk
  };
  const int threads = omp_get_max_threads();
  omp_set_num_threads(3);
  for (const fer::ConvCpuAlgorithm algorithm : {fer::ConvCpuAlgorithm::Auto, fer::ConvCpuAlgorithm::Im2col}) {
    fer::set_conv_cpu_algorithm(algorithm);
    for (const ConvCase& c : cases) {
      INFO("x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", im2col only "
                << (algorithm == fer::ConvCpuAlgorithm::Im2col));
      REQUIRE_CPU_MATCHES_REF(conv2d_of(c), inputs_of(c, c.w[0]), 1e-4, 1e-4);
    }
  }
  fer::set_conv_cpu_algorithm(fer::ConvCpuAlgorithm::Auto);
  omp_set_num_threads(threads);
}

TEST_CASE("conv_transpose2d cpu path matches the reference, forward and backward", "[cpu]") {
  const std::vector<ConvCase> cases{
      {{5, 6, 9, 7}, {6, 3, 4, 4}, 2, 1, 0, true},     // k4 s2 p1, whole batch in one chunk
      {{7, 4, 5, 3}, {4, 3, 3, 3}, 2, 1, 1, true},     // output_padding 1
      {{11, 2, 31, 33}, {2, 17, 5, 5}, 1, 2, 0, false}, // chunks of 2 (data), 9 (filter) + rest
      {{2, 64, 9, 8}, {64, 16, 4, 4}, 2, 1, 0, true},   // backward-data: the phase-plane forward
      {{2, 64, 16, 17}, {64, 16, 4, 4}, 2, 1, 0, false}, // forward: the phase-plane backward-data
  };
  for (const ConvCase& c : cases) {
    INFO("x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride << ", padding "
              << c.padding << ", output_padding " << c.output_padding);
    REQUIRE_CPU_MATCHES_REF(conv_transpose2d_of(c), inputs_of(c, c.w[1]), 1e-4, 1e-4);
  }
}

TEST_CASE("conv2d rejects inconsistent arguments, naming the shapes", "[cpu]") {
  const Tensor x = Tensor::zeros({2, 3, 9, 9});
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({8, 4, 3, 3}), Tensor(), {1, 0}),
                      Catch::Contains("conv2d: input [2, 3, 9, 9] has 3 channels but weight [8, 4, 3, 3] expects 4"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({8, 3, 3, 3}), Tensor::zeros({7}), {1, 0}),
                      Catch::Contains("conv2d: bias [7] does not match weight [8, 3, 3, 3] (expects [8])"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({8, 3, 12, 3}), Tensor(), {1, 1}),
                      Catch::Contains("is larger than input [2, 3, 9, 9] padded by 1"));
  REQUIRE_THROWS_WITH(conv2d(Tensor::zeros({3, 9, 9}), Tensor::zeros({8, 3, 3, 3}), Tensor(), {1, 0}),
                      Catch::Contains("conv2d: input must be 4-D [N, C, H, W], got [3, 9, 9]"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({8, 3, 3, 3}), Tensor(), {0, 0}), Catch::Contains("stride"));
}

TEST_CASE("conv_transpose2d rejects inconsistent arguments, naming the shapes", "[cpu]") {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  REQUIRE_THROWS_WITH(
      conv_transpose2d(x, Tensor::zeros({4, 8, 4, 4}), Tensor(), {2, 1, 0}),
      Catch::Contains("conv_transpose2d: input [2, 3, 4, 4] has 3 channels but weight [4, 8, 4, 4] expects 4"));
  REQUIRE_THROWS_WITH(conv_transpose2d(x, Tensor::zeros({3, 8, 4, 4}), Tensor::zeros({3}), {2, 1, 0}),
                      Catch::Contains("bias [3] does not match weight [3, 8, 4, 4] (expects [8])"));
  REQUIRE_THROWS_WITH(conv_transpose2d(x, Tensor::zeros({3, 8, 4, 4}), Tensor(), {2, 1, 2}),
                      Catch::Contains("output_padding 2 must be in [0, stride 2)"));
}
