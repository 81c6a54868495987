// intra_class_loss on cuda-sim (and cuda): loss, both gradients, centers through the running
// buffers, in rdbp and naive modes, against the cpu, at odd sizes (37 real, 29 synthetic rows,
// 13 features: scalar backward; 16 features: float4 backward), with classes that take the running
// center, classes never seen, enough rows for several row slices in the class sums, and the
// run-to-run determinism and bad-label behaviour of the CUDA version.
#include <cmath>
#include <vector>

#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops/rdbp.h"
#include "kernels/rdbp/rdbp_cuda.h"
#include "tests/support/device_vs_cpu.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

constexpr int64_t kClasses = 7;

// n labels in [0, classes) from a fixed pattern (every class below `classes` appears when n >= classes).
Tensor labels(int64_t n, int64_t classes, int64_t shift = 0) {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>((i * 5 + shift) % classes));
  return Tensor::from_vector(v, {n});
}

Tensor feature(int64_t rows, int64_t dim, uint64_t seed) {
  Tensor t = random_tensor({rows, dim}, seed, -2, 2);
  t.set_requires_grad();
  return t;
}

// Classes 0..4 have real rows; 5 has none but was seen (running center); 6 is never seen.
std::vector<Tensor> inputs(int64_t num_real, int64_t num_synth, int64_t dim) {
  const Tensor seen = Tensor::from_vector(std::vector<float>{3, 0, 1, 0, 0, 2, 0}, {kClasses});
  return {feature(num_real, dim, 1), labels(num_real, 5), feature(num_synth, dim, 2), labels(num_synth, kClasses, 3),
          random_tensor({kClasses, dim}, 3), seen};
}

auto loss_with(IntraClassOptions options) {
  return [options](const std::vector<Tensor>& in) {
    Tensor centers = in[4], seen = in[5];
    return intra_class_loss(in[0], in[1], in[2], in[3], centers, seen, options);
  };
}

IntraClassOptions options(RdbpMode mode, bool update) {
  IntraClassOptions o;
  o.mode = mode;
  o.momentum = 0.25;
  o.update_running = update;
  return o;
}

}  // namespace

FER_CUDA_TEST_CASE("intra_class_loss matches the cpu in rdbp and naive modes", "[rdbp]") {
  for (const RdbpMode mode : {RdbpMode::Rdbp, RdbpMode::Naive})
    for (const bool update : {true, false})
      for (const int64_t dim : {13, 16}) {
        INFO("naive " << (mode == RdbpMode::Naive) << ", update_running " << update << ", dim " << dim);
        REQUIRE_DEVICE_MATCHES_CPU(device, loss_with(options(mode, update)), inputs(37, 29, dim), 1e-5, 1e-4);
      }
}

FER_CUDA_TEST_CASE("intra_class_loss adds many row slices and works without synthetic rows", "[rdbp]") {
  REQUIRE_DEVICE_MATCHES_CPU(device, loss_with(options(RdbpMode::Naive, true)), inputs(301, 203, 5), 1e-5, 1e-4);
  auto real_only = [](const std::vector<Tensor>& in) {
    Tensor centers = in[2], seen = in[3];
    return intra_class_loss(in[0], in[1], Tensor(), Tensor(), centers, seen, options(RdbpMode::Rdbp, true));
  };
  const std::vector<Tensor> all = inputs(37, 1, 9);
  REQUIRE_DEVICE_MATCHES_CPU(device, real_only, (std::vector<Tensor>{all[0], all[1], all[4], all[5]}), 1e-5, 1e-4);
}

FER_CUDA_TEST_CASE("intra_class_loss gives the same bits on every run", "[rdbp]") {
  std::vector<Tensor> in = inputs(301, 203, 13);
  for (Tensor& t : in) t = t.detach().to(device).clone();
  auto run = [&] {
    Tensor centers = in[4].clone(), seen = in[5].clone();
    return intra_class_loss(in[0], in[1], in[2], in[3], centers, seen, options(RdbpMode::Naive, true)).to(Device::CPU);
  };
  const Tensor first = run(), second = run();
  REQUIRE_CLOSE(second, first, 0, 0);
}

FER_CUDA_TEST_CASE("intra_class_loss names a label out of range; the kernels' own guard gives NaN", "[rdbp]") {
  std::vector<Tensor> in = inputs(7, 3, 4);
  for (Tensor& t : in) t = t.detach().to(device).clone();
  const Tensor bad = Tensor::from_vector(std::vector<float>{0, 1, 2, 9, 1, 0, 3}, {7}).to(device);
  REQUIRE_THROWS_WITH(intra_class_loss(in[0], bad, in[2], in[3], in[4], in[5], options(RdbpMode::Rdbp, true)),
                      Catch::Contains("intra_class_loss: real label 9 at position 3 is not a class index in [0, 7)"));
  // The kernels themselves, called without the op's check, cannot throw on the device.
  RdbpShape s;
  s.num_real = 7;
  s.num_synth = 3;
  s.dim = 4;
  s.num_classes = kClasses;
  s.mode = RdbpMode::Rdbp;
  const Tensor centers = Tensor::empty({kClasses, 4}, DType::F32, device);
  const Tensor has_center = Tensor::empty({kClasses}, DType::F32, device);
  const Tensor loss = Tensor::empty({1}, DType::F32, device), terms = Tensor::empty({1}, DType::F32, device);
  FER_DISPATCH(device, DType::F32, rdbp_forward, s, in[0].data<T>(), bad.data<float>(), in[2].data<T>(),
               in[3].data<float>(), in[4].data<T>(), in[5].data<T>(), centers.data<T>(), has_center.data<T>(),
               loss.data<T>(), terms.data<T>());
  REQUIRE(std::isnan(loss.to(Device::CPU).to_vector()[0]));
}
