// FESGAN (docs/design.md "Models"): encoder E, decoder/generator G, image discriminator D_img with
// an adversarial and an expression-classification head (spectral norm on every weight), and latent
// discriminator D_z. Layout NCHW; images in [-1, 1]; labels float32 class indices [N].
// Every layer is built from engine/nn/layers.h; sizes come from ModelConfig.
#pragma once
#include <memory>

#include "engine/nn/layers.h"
#include "models/config.h"

namespace fer::models {

// x [N, C, S, S] -> identity code [N, d] in [-1, 1]. Four k4 s2 p1 convolutions (instance norm
// after all but the first), a linear layer and tanh.
class Encoder : public nn::Module {
 public:
  Encoder(const ModelConfig& config, fer::RandomStream& rng);
  std::string type_name() const override { return "Encoder"; }
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Sequential> body_;
};

// The generator G. [code [N, d], expression labels [N]] -> image [N, C, S, S] in [-1, 1]: linear to
// 512w x s4 x s4, batch norm, ReLU, four k4 s2 p1 transposed convolutions, tanh.
class Decoder : public nn::Module {
 public:
  Decoder(const ModelConfig& config, fer::RandomStream& rng);
  std::string type_name() const override { return "Decoder"; }
  using nn::Module::forward;  // the single-input form throws: G takes code and labels
  Tensor forward(const Tensor& code, const Tensor& labels);

 private:
  ModelConfig config_;
  std::shared_ptr<nn::Linear> project_;
  std::shared_ptr<nn::Sequential> body_;
};

struct DiscriminatorOutput {
  Tensor adversarial;  // [N, 1] hinge-loss logits
  Tensor classes;      // [N, K] expression logits
};

// x [N, C, S, S] -> both heads; spectral norm on every weight.
class ImageDiscriminator : public nn::Module {
 public:
  ImageDiscriminator(const ModelConfig& config, fer::RandomStream& rng);
  std::string type_name() const override { return "ImageDiscriminator"; }
  DiscriminatorOutput run(const Tensor& x);

 private:
  std::shared_ptr<nn::Sequential> body_;
  std::shared_ptr<nn::Linear> adversarial_, classes_;
};

// code [N, d] -> logit [N, 1] that the code came from the prior.
class LatentDiscriminator : public nn::Module {
 public:
  LatentDiscriminator(const ModelConfig& config, fer::RandomStream& rng);
  std::string type_name() const override { return "LatentDiscriminator"; }
  Tensor forward(const Tensor& code) override;

 private:
  std::shared_ptr<nn::Sequential> body_;
};

}  // namespace fer::models
