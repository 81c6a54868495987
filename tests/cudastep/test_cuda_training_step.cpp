// A complete training step of a small CNN on cuda-sim (and cuda) against the same step on the
// cpu: conv, batch norm, relu, max pool, dropout, linear, cross-entropy, backward, Adam. Two
// identical models (same initialization seeds) run two steps side by side; after each, the
// losses, every parameter's gradient, the updated parameters and the batch-norm running
// statistics must agree. Sizes are odd (5 samples of 2x9x11, 7 and 5 channels, 3 classes) so that
// no kernel sees a multiple of its tile sizes.
// The conv before a batch norm has no bias: its exact gradient is 0, and Adam would turn the
// rounding noise in it (of either sign) into full-size, device-dependent steps.
#include <memory>

#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/devices.h"

using namespace fer;
using fer::test::random_tensor;

namespace {

// Holds its dropout generator: the cpu and device models draw the same masks.
struct SmallCnn {
  RandomStream dropout_gen{99};
  std::shared_ptr<nn::Sequential> net = std::make_shared<nn::Sequential>();

  explicit SmallCnn(uint64_t init_seed) {
    RandomStream init(init_seed);
    net->push_back(std::make_shared<nn::Conv2d>(2, 7, 3, init, nn::ConvOptions{.padding = 1, .bias = false}));
    net->push_back(std::make_shared<nn::BatchNorm2d>(7));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::MaxPool2d>(2));                       // 9x11 -> 4x5
    net->push_back(std::make_shared<nn::Conv2d>(7, 5, 3, init, nn::ConvOptions{.padding = 1}));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::Flatten>());
    net->push_back(std::make_shared<nn::Dropout>(0.2, dropout_gen));
    net->push_back(std::make_shared<nn::Linear>(5 * 4 * 5, 3, init));
  }
};

void require_all_close(const nn::NamedTensors& got, const nn::NamedTensors& want, double atol, double rtol,
                       bool grads) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO((grads ? "gradient of " : "") << want[i].first);
    REQUIRE(got[i].first == want[i].first);
    const Tensor& g = grads ? got[i].second.grad() : got[i].second;
    const Tensor& w = grads ? want[i].second.grad() : want[i].second;
    REQUIRE(g.defined() == w.defined());
    REQUIRE_CLOSE(g.to(Device::CPU), w, atol, rtol);
  }
}

}  // namespace

FER_CUDA_TEST_CASE("training step of a small CNN matches the cpu", "[cudastep]") {
  SmallCnn cpu(7), dev(7);
  dev.net->to(device);
  const optim::AdamOptions adam{.lr = 1e-3};
  optim::Adam cpu_opt(cpu.net->parameters(), adam);
  optim::Adam dev_opt(dev.net->parameters(), adam);

  const Tensor x = random_tensor({5, 2, 9, 11}, 3);
  const Tensor labels = Tensor::from_vector(std::vector<float>{0, 2, 1, 2, 0}, {5});
  const Tensor x_dev = x.to(device), labels_dev = labels.to(device);

  for (int step = 0; step < 2; ++step) {
    INFO("step " << step);
    cpu_opt.zero_grad();
    dev_opt.zero_grad();
    Tensor cpu_loss = cross_entropy(cpu.net->forward(x), labels);
    Tensor dev_loss = cross_entropy(dev.net->forward(x_dev), labels_dev);
    REQUIRE_CLOSE(dev_loss.to(Device::CPU), cpu_loss, 1e-5, 1e-5);
    cpu_loss.backward();
    dev_loss.backward();
    require_all_close(dev.net->named_parameters(), cpu.net->named_parameters(), 1e-5, 1e-4, true);
    cpu_opt.step();
    dev_opt.step();
    require_all_close(dev.net->named_parameters(), cpu.net->named_parameters(), 1e-6, 1e-4, false);
    require_all_close(dev.net->named_buffers(), cpu.net->named_buffers(), 1e-6, 1e-5, false);
  }
}
