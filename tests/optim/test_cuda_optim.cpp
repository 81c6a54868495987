// SGD and Adam on cuda-sim (and cuda): the multi-tensor kernel against the cpu reference, over
// parameter lists of odd lengths (1, 7, 37, 4099: one past a block's chunk), with slices whose
// arrays are 16-byte aligned (float4 path plus tail) and misaligned (scalar path), more slices
// than one launch's table holds, and through the engine's optimizers for several steps.
#include <functional>
#include <vector>

#include "engine/optim/optimizer.h"
#include "kernels/optim/optim_cuda.h"
#include "tests/support/compare.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

// Four arrays (param, grad, two state buffers) on the host and the device, and slices into them
// of the given sizes, each starting `misalign` floats past a 16-byte boundary.
struct Arena {
  std::vector<int64_t> offsets, sizes;
  std::vector<Tensor> host, dev;

  Arena(const std::vector<int64_t>& slice_sizes, int64_t misalign, Device device) : sizes(slice_sizes) {
    int64_t total = 0;
    for (int64_t size : sizes) {
      offsets.push_back(total + misalign);
      total += (size + misalign + 3) / 4 * 4;
    }
    for (uint64_t a = 0; a < 4; ++a) {
      // exp_avg_sq (array 3) must be >= 0; the others span [-1, 1)
      host.push_back(random_tensor({total + 4}, 50 + a, a == 3 ? 0.0 : -1.0, 1.0));
      dev.push_back(host.back().to(device).clone());
    }
  }
  float* at(const std::vector<Tensor>& arrays, int array, size_t slice) const {
    return arrays[static_cast<size_t>(array)].data<float>() + offsets[slice];
  }
  void require_match(double atol, double rtol) const {
    for (size_t a = 0; a < 4; ++a) {
      INFO("array " << a);
      REQUIRE_CLOSE(dev[a].to(Device::CPU), host[a], atol, rtol);
    }
  }
};

std::vector<AdamSlice<float>> adam_slices(const Arena& arena, const std::vector<Tensor>& arrays) {
  std::vector<AdamSlice<float>> slices;
  for (size_t s = 0; s < arena.sizes.size(); ++s)
    slices.push_back({arena.at(arrays, 0, s), arena.at(arrays, 1, s), arena.at(arrays, 2, s), arena.at(arrays, 3, s),
                      arena.sizes[s], static_cast<int64_t>(1 + s % 5)});
  return slices;
}

std::vector<SgdSlice<float>> sgd_slices(const Arena& arena, const std::vector<Tensor>& arrays, bool momentum) {
  std::vector<SgdSlice<float>> slices;
  for (size_t s = 0; s < arena.sizes.size(); ++s)
    slices.push_back({arena.at(arrays, 0, s), arena.at(arrays, 1, s), momentum ? arena.at(arrays, 2, s) : nullptr,
                      arena.sizes[s]});
  return slices;
}

void device_adam(Device device, const std::vector<AdamSlice<float>>& s, const AdamHyper& h) {
  FER_CALL_ON(device, adam_update_cuda, s.data(), static_cast<int64_t>(s.size()), h);
}

void device_sgd(Device device, const std::vector<SgdSlice<float>>& s, const SgdHyper& h) {
  FER_CALL_ON(device, sgd_update_cuda, s.data(), static_cast<int64_t>(s.size()), h);
}

const std::vector<int64_t> kOddSizes{1, 7, 37, 4099, 0, 13};

std::vector<int64_t> many_small_sizes() {  // more slices than one launch takes (64)
  std::vector<int64_t> sizes;
  for (int64_t s = 0; s < 70; ++s) sizes.push_back(1 + s % 9);
  return sizes;
}

}  // namespace

FER_CUDA_TEST_CASE("adam_update matches the cpu over odd, aligned and misaligned slices", "[optim]") {
  const AdamHyper h{.lr = 1e-3, .beta1 = 0.5, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
  for (const auto& sizes : {kOddSizes, many_small_sizes()})
    for (const int64_t misalign : {0, 1}) {
      INFO("slices " << sizes.size() << ", misalign " << misalign);
      Arena arena(sizes, misalign, device);
      device_adam(device, adam_slices(arena, arena.dev), h);
      const auto host_slices = adam_slices(arena, arena.host);
      adam_update_ref<float>(host_slices.data(), static_cast<int64_t>(host_slices.size()), h);
      arena.require_match(1e-6, 1e-5);
    }
}

FER_CUDA_TEST_CASE("sgd_update matches the cpu with and without momentum, Nesterov", "[optim]") {
  const std::vector<SgdHyper> hypers{{.lr = 0.1, .momentum = 0, .weight_decay = 0, .nesterov = false},
                                     {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = false},
                                     {.lr = 0.05, .momentum = 0.5, .weight_decay = 0, .nesterov = true}};
  for (const SgdHyper& h : hypers)
    for (const int64_t misalign : {0, 1}) {
      INFO("momentum " << h.momentum << ", nesterov " << h.nesterov << ", misalign " << misalign);
      Arena arena(kOddSizes, misalign, device);
      device_sgd(device, sgd_slices(arena, arena.dev, h.momentum != 0), h);
      const auto host_slices = sgd_slices(arena, arena.host, h.momentum != 0);
      sgd_update_ref<float>(host_slices.data(), static_cast<int64_t>(host_slices.size()), h);
      arena.require_match(1e-6, 1e-5);
    }
}

FER_CUDA_TEST_CASE("sgd_update rejects a missing momentum buffer", "[optim]") {
  Arena arena({5}, 0, device);
  REQUIRE_THROWS_WITH(device_sgd(device, sgd_slices(arena, arena.dev, false), {.lr = 0.1, .momentum = 0.9}),
                      Catch::Contains("no momentum buffer"));
}

FER_CUDA_TEST_CASE("Adam and SGD optimizers step on the device as on the cpu", "[optim]") {
  const std::vector<Shape> shapes{{7, 3}, {37}, {1}, {5, 5, 3, 3}};
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<Make> makers{
      [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
        return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 1e-2, .beta1 = 0.5, .weight_decay = 0.1});
      },
      [](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
        return std::make_unique<optim::SGD>(std::move(p), optim::SgdOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
      }};
  for (const Make& make : makers) {
    std::vector<Tensor> on_device, on_cpu;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Tensor init = random_tensor(shapes[i], 70 + i);
      on_device.push_back(init.to(device).clone());
      on_cpu.push_back(init.clone());
      on_device.back().set_requires_grad();
      on_cpu.back().set_requires_grad();
    }
    auto dev_opt = make(on_device), cpu_opt = make(on_cpu);
    INFO(cpu_opt->type_name());
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < shapes.size(); ++i) {
        const Tensor g = random_tensor(shapes[i], 80 + 10 * step + i);
        on_device[i].mutable_grad() = g.to(device).clone();
        on_cpu[i].mutable_grad() = g.clone();
      }
      dev_opt->step();
      cpu_opt->step();
    }
    for (size_t i = 0; i < shapes.size(); ++i) REQUIRE_CLOSE(on_device[i].to(Device::CPU), on_cpu[i], 1e-6, 1e-5);
  }
}
