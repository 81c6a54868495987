// The recognizer R and the identity network Id (docs/design.md "Models"): one shared body of four
// blocks [conv3x3 p1, BN, ReLU, conv3x3 p1, BN, ReLU, maxpool 2] with 32, 64, 128, 256 channels
// (times w), then global average pooling. Layout NCHW; images in [-1, 1].
#pragma once
#include <memory>

#include "engine/nn/layers.h"
#include "models/config.h"

namespace fer::models {

// x [N, C, S, S] -> [N, 256w].
class RecognizerBody : public nn::Module {
 public:
  RecognizerBody(const ModelConfig& config, fer::RandomStream& rng);
  std::string type_name() const override { return "RecognizerBody"; }
  Tensor forward(const Tensor& x) override;
  int64_t out_channels() const { return out_channels_; }

 private:
  std::shared_ptr<nn::Sequential> blocks_;
  int64_t out_channels_ = 0;
};

struct RecognizerOutput {
  Tensor logits;   // [N, K]
  Tensor feature;  // [N, feature_dim]: the feature f of the intra-class loss (after ReLU)
};

// R: body, linear -> feature_dim, ReLU (= f), dropout, linear -> K.
// Owns the generator of its dropout masks (a checkpoint saves its state).
class Recognizer : public nn::Module {
 public:
  Recognizer(const ModelConfig& config, fer::RandomStream& rng, uint64_t dropout_seed);
  std::string type_name() const override { return "Recognizer"; }
  RecognizerOutput run(const Tensor& x);
  Tensor forward(const Tensor& x) override { return run(x).logits; }
  fer::RandomStream& dropout_stream() { return dropout_rng_; }

 private:
  fer::RandomStream dropout_rng_;
  std::shared_ptr<RecognizerBody> body_;
  std::shared_ptr<nn::Linear> feature_, classifier_;
  std::shared_ptr<nn::Dropout> dropout_;
};

struct IdentityOutput {
  Tensor embedding;  // [N, feature_dim]: compared by the identity loss
  Tensor logits;     // [N, subjects]: the training head
};

// Id: body, linear -> feature_dim (the embedding), training head -> number of training subjects.
class IdentityNet : public nn::Module {
 public:
  IdentityNet(const ModelConfig& config, int64_t subjects, fer::RandomStream& rng);
  std::string type_name() const override { return "IdentityNet"; }
  IdentityOutput run(const Tensor& x);
  Tensor forward(const Tensor& x) override { return run(x).embedding; }

 private:
  std::shared_ptr<RecognizerBody> body_;
  std::shared_ptr<nn::Linear> embedding_, head_;
};

}  // namespace fer::models
