#include "models/fesgan.h"

#include "engine/ops.h"

namespace fer::models {

namespace {

constexpr double kSlope = 0.2;  // LeakyReLU slope of every discriminator and of the encoder

nn::ConvOptions down(bool spectral = false, bool bias = true) {
  nn::ConvOptions o;
  o.stride = 2;
  o.padding = 1;
  o.spectral_norm = spectral;
  o.bias = bias;
  return o;
}

// Channel counts of the four k4 s2 p1 stages, at width 1.
constexpr int64_t kStages[] = {64, 128, 256, 512};

}  // namespace

Encoder::Encoder(const ModelConfig& c, fer::RandomStream& rng) {
  c.validate();
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  int64_t in = c.channels;
  for (int i = 0; i < 4; ++i) {
    const int64_t out = c.ch(kStages[i]);
    body_->push_back(std::make_shared<nn::Conv2d>(in, out, 4, rng, down()));
    if (i > 0) {
      nn::InstanceNormOptions norm;
      norm.affine = true;
      body_->push_back(std::make_shared<nn::InstanceNorm2d>(out, norm));
    }
    body_->push_back(std::make_shared<nn::LeakyReLU>(kSlope));
    in = out;
  }
  body_->push_back(std::make_shared<nn::Flatten>());
  body_->push_back(std::make_shared<nn::Linear>(in * c.s4() * c.s4(), c.latent, rng));
  body_->push_back(std::make_shared<nn::Tanh>());
}

Tensor Encoder::forward(const Tensor& x) { return body_->forward(x); }

Decoder::Decoder(const ModelConfig& c, fer::RandomStream& rng) : config_(c) {
  c.validate();
  const int64_t first = c.ch(kStages[3]);
  project_ = register_module("project", std::make_shared<nn::Linear>(c.latent + c.classes,
                                                                     first * c.s4() * c.s4(), rng));
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  body_->push_back(std::make_shared<nn::BatchNorm2d>(first));
  body_->push_back(std::make_shared<nn::ReLU>());
  int64_t in = first;
  for (int i = 2; i >= -1; --i) {
    const bool last = i < 0;
    const int64_t out = last ? c.channels : c.ch(kStages[i]);
    body_->push_back(std::make_shared<nn::ConvTranspose2d>(in, out, 4, rng, down()));
    if (!last) {
      body_->push_back(std::make_shared<nn::BatchNorm2d>(out));
      body_->push_back(std::make_shared<nn::ReLU>());
    }
    in = out;
  }
  body_->push_back(std::make_shared<nn::Tanh>());
}

Tensor Decoder::forward(const Tensor& code, const Tensor& labels) {
  FER_CHECK(code.dim() == 2 && code.size(1) == config_.latent && labels.dim() == 1 &&
            labels.size(0) == code.size(0))
      << "Decoder: code " << shape_str(code.shape()) << " and labels " << shape_str(labels.shape())
      << " must be [N, " << config_.latent << "] and [N]";
  const Tensor input = concat({code, one_hot(labels, config_.classes)}, 1);
  const Tensor h = reshape(project_->forward(input), {code.size(0), -1, config_.s4(), config_.s4()});
  return body_->forward(h);
}

ImageDiscriminator::ImageDiscriminator(const ModelConfig& c, fer::RandomStream& rng) {
  c.validate();
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  int64_t in = c.channels;
  for (int64_t stage : kStages) {
    const int64_t out = c.ch(stage);
    body_->push_back(std::make_shared<nn::Conv2d>(in, out, 4, rng, down(/*spectral=*/true)));
    body_->push_back(std::make_shared<nn::LeakyReLU>(kSlope));
    in = out;
  }
  body_->push_back(std::make_shared<nn::Flatten>());
  nn::LinearOptions head;
  head.spectral_norm = true;
  const int64_t features = in * c.s4() * c.s4();
  adversarial_ = register_module("adversarial", std::make_shared<nn::Linear>(features, 1, rng, head));
  classes_ = register_module("classes", std::make_shared<nn::Linear>(features, c.classes, rng, head));
}

DiscriminatorOutput ImageDiscriminator::run(const Tensor& x) {
  const Tensor h = body_->forward(x);
  return {adversarial_->forward(h), classes_->forward(h)};
}

LatentDiscriminator::LatentDiscriminator(const ModelConfig& c, fer::RandomStream& rng) {
  c.validate();
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  int64_t in = c.latent;
  for (int64_t out : {64, 32, 16}) {
    body_->push_back(std::make_shared<nn::Linear>(in, out, rng));
    body_->push_back(std::make_shared<nn::LeakyReLU>(kSlope));
    in = out;
  }
  body_->push_back(std::make_shared<nn::Linear>(in, 1, rng));
}

Tensor LatentDiscriminator::forward(const Tensor& code) { return body_->forward(code); }

}  // namespace fer::models
