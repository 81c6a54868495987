// conv2d and conv_transpose2d on cuda-sim (and cuda): forward, backward-data and backward-filter
// (with the bias gradient) against the cpu path, for each kernel variant (kernels/conv/conv_cuda.h),
// at odd sizes that are not multiples of the 64 x 64 x 16 tiles: stride 1, 2 and 3, padding 0, 1
// and 2, k4 s2 p1 as in the models, 1x1 filters (strided backward-data phases without taps),
// more than one tile along every GEMM dimension, and a batch of one (the filter gradient without
// split-K). On the simulator the threads of a block run in a random order between barriers, so
// that a missing __syncthreads fails.
#include <vector>

#include "kernels/conv/conv_cuda.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"
#ifdef FER_WITH_CUDA_SIM
#include "kernels/sim/sim.h"  // the simulator's thread order
#endif

using namespace fer;
using fer::test::random_tensor;

namespace {

void select_conv_variant(Device device, int variant) { FER_CALL_ON(device, set_conv_variant, variant); }

void set_random_thread_order([[maybe_unused]] Device device, [[maybe_unused]] bool random) {
#ifdef FER_WITH_CUDA_SIM
  if (device == Device::CUDASim)
    ::fersim::set_thread_order(random ? ::fersim::ThreadOrder::Random : ::fersim::ThreadOrder::Sequential, 1234);
#endif
}

// Runs body once per variant, in random thread order on the simulator; leaves variant 2 and the
// sequential order.
template <typename Body>
void for_each_variant(Device device, Body body) {
  for (int variant : {1, 2}) {
    INFO("variant " << variant);
    select_conv_variant(device, variant);
    set_random_thread_order(device, true);
    body();
  }
  select_conv_variant(device, 2);
  set_random_thread_order(device, false);
}

Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  t.set_requires_grad();
  return t;
}

struct ConvCase {
  Shape x, w;
  int stride, padding, output_padding;
};

// Float32 sums of up to a few hundred products of values in [-1, 1], in different orders.
constexpr double kAtol = 2e-5, kRtol = 1e-4;

void require_conv2d_matches_cpu(Device device, const ConvCase& c) {
  INFO("conv2d x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride << ", padding "
                   << c.padding);
  const auto f = [c](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], {c.stride, c.padding}); };
  const std::vector<Tensor> inputs{param(c.x, 1), param(c.w, 2), param({c.w[0]}, 3)};
  REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, kAtol, kRtol);
}

// c.w is PyTorch's [C_in, C_out, R, S].
void require_conv_transpose2d_matches_cpu(Device device, const ConvCase& c) {
  INFO("conv_transpose2d x " << shape_str(c.x) << ", w " << shape_str(c.w) << ", stride " << c.stride
                             << ", padding " << c.padding << ", output_padding " << c.output_padding);
  const auto f = [c](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], in[2], {c.stride, c.padding, c.output_padding});
  };
  const std::vector<Tensor> inputs{param(c.x, 4), param(c.w, 5), param({c.w[1]}, 6)};
  REQUIRE_DEVICE_MATCHES_CPU(device, f, inputs, kAtol, kRtol);
}

}  // namespace

FER_CUDA_TEST_CASE("conv2d forward and backward match the cpu at odd shapes", "[conv]") {
  const std::vector<ConvCase> cases{
      {{3, 5, 11, 9}, {7, 5, 3, 3}, 1, 1, 0},   // 3x3 p1, as the recognizer's convs
      {{3, 5, 11, 9}, {7, 5, 3, 3}, 2, 0, 0},   // stride 2, no padding
      {{3, 5, 11, 9}, {7, 5, 4, 4}, 2, 1, 0},   // k4 s2 p1, as the encoder and discriminator
      {{2, 3, 10, 7}, {5, 3, 2, 3}, 3, 2, 0},   // stride 3, padding 2, non-square filter
      {{2, 3, 7, 9}, {5, 3, 1, 1}, 2, 0, 0},    // 1x1 stride 2: backward-data phases without taps
      {{1, 4, 13, 11}, {7, 4, 3, 3}, 1, 1, 0},  // one image: the filter gradient has one split
  };
  for_each_variant(device, [&] {
    for (const ConvCase& c : cases) require_conv2d_matches_cpu(device, c);
  });
}

FER_CUDA_TEST_CASE("conv2d matches the cpu across several tiles in every dimension", "[conv]") {
  // M = 2*9*9 = 162 pixels (3 tiles), N = 67 filters (2 tiles), K = 3*3*3... with C = 9: 81
  // (6 tiles of 16); backward-data N = 9 channels, K = 67*9 = 603; backward-filter M = 67, N = 81.
  for_each_variant(device, [&] { require_conv2d_matches_cpu(device, {{2, 9, 9, 9}, {67, 9, 3, 3}, 1, 1, 0}); });
}

FER_CUDA_TEST_CASE("conv_transpose2d forward and backward match the cpu at odd shapes", "[conv]") {
  const std::vector<ConvCase> cases{
      {{3, 7, 5, 6}, {7, 5, 4, 4}, 2, 1, 0},  // k4 s2 p1, as the generator
      {{3, 7, 5, 6}, {7, 5, 3, 3}, 2, 1, 1},  // output_padding 1
      {{2, 5, 7, 5}, {5, 3, 3, 3}, 1, 1, 0},  // stride 1
      {{2, 4, 4, 5}, {4, 3, 3, 2}, 3, 0, 2},  // stride 3, non-square filter, output_padding 2
  };
  for_each_variant(device, [&] {
    for (const ConvCase& c : cases) require_conv_transpose2d_matches_cpu(device, c);
  });
}

FER_CUDA_TEST_CASE("conv2d variants reject an unknown variant", "[conv]") {
  REQUIRE_THROWS_WITH([&] { FER_CALL_ON(device, set_conv_variant, 3); }(),
                      Catch::Contains("set_conv_variant: variant 3"));
  // The rejected choice leaves the default selected.
#ifdef FER_WITH_CUDA
  if (device == Device::CUDA) REQUIRE(cuda::conv_variant() == 2);
#endif
#ifdef FER_WITH_CUDA_SIM
  if (device == Device::CUDASim) REQUIRE(cudasim::conv_variant() == 2);
#endif
}
