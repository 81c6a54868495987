// A small CNN (conv-bn-relu-pool-dropout-linear) and a toy task for the training tests:
// 4 classes of 12x12 images (horizontal bar, vertical bar, diagonal, hollow square) at random
// positions, with noise. Minibatches are drawn from a RandomStream, so a run is a pure function of
// its seeds and checkpoints can replay it exactly.
#pragma once
#include <memory>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"

namespace fer::test {

constexpr int kToySize = 12;
constexpr int kToyClasses = 4;

struct ToyData {
  Tensor images;  // [N, 1, 12, 12]
  Tensor labels;  // [N]
};

inline ToyData make_toy_data(int per_class, uint64_t seed) {
  RandomStream rng(seed);
  const int n = per_class * kToyClasses;
  std::vector<float> images(static_cast<size_t>(n) * kToySize * kToySize), labels(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int label = i % kToyClasses;
    labels[static_cast<size_t>(i)] = static_cast<float>(label);
    float* img = images.data() + static_cast<size_t>(i) * kToySize * kToySize;
    for (int p = 0; p < kToySize * kToySize; ++p) img[p] = static_cast<float>(0.2 * rng.uniform());
    const int r = 2 + static_cast<int>(rng.randint(kToySize - 7)), c = 2 + static_cast<int>(rng.randint(kToySize - 7));
    for (int k = 0; k < 5; ++k) {
      const int rows[] = {r, r + k, r + k, r};
      const int cols[] = {c + k, c, c + k, c + k};
      img[rows[label] * kToySize + cols[label]] = 1;
      if (label == 3) {  // hollow 5x5 square: four sides
        img[(r + 4) * kToySize + c + k] = 1;
        img[(r + k) * kToySize + c] = 1;
        img[(r + k) * kToySize + c + 4] = 1;
      }
    }
  }
  return {Tensor::from_vector(images, {n, 1, kToySize, kToySize}), Tensor::from_vector(labels, {n})};
}

inline std::shared_ptr<nn::Sequential> make_toy_cnn(RandomStream& init, RandomStream& dropout) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(1, 8, 3, init, nn::ConvOptions{.padding = 1}));
  net->push_back(std::make_shared<nn::BatchNorm2d>(8));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Dropout>(0.1, dropout));
  net->push_back(std::make_shared<nn::Linear>(8 * 6 * 6, kToyClasses, init));
  return net;
}

// One training step on a random minibatch of `batch` samples drawn with `sampler`.
inline double toy_train_step(nn::Module& net, optim::Optimizer& opt, const ToyData& data, int batch,
                             RandomStream& sampler) {
  std::vector<int64_t> rows;
  for (int i = 0; i < batch; ++i) rows.push_back(sampler.randint(data.images.size(0)));
  opt.zero_grad();
  const Tensor loss = cross_entropy(net(index_select(data.images, rows)), index_select(data.labels, rows));
  loss.backward();
  opt.step();
  return loss.item();
}

inline double toy_accuracy(nn::Module& net, const ToyData& data) {
  NoGradGuard no_grad;
  const std::vector<float> logits = net(data.images).to_vector();
  const std::vector<float> labels = data.labels.to_vector();
  int correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    int best = 0;
    for (int k = 1; k < kToyClasses; ++k)
      if (logits[i * kToyClasses + k] > logits[i * kToyClasses + best]) best = k;
    correct += best == static_cast<int>(labels[i]);
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

}  // namespace fer::test
