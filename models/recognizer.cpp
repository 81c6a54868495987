#include "models/recognizer.h"

#include "engine/ops.h"

namespace fer::models {

RecognizerBody::RecognizerBody(const ModelConfig& c, fer::RandomStream& rng) {
  c.validate();
  blocks_ = register_module("blocks", std::make_shared<nn::Sequential>());
  nn::ConvOptions same;
  same.padding = 1;
  int64_t in = c.channels;
  for (int64_t base : {32, 64, 128, 256}) {
    const int64_t out = c.ch(base);
    for (int conv = 0; conv < 2; ++conv) {
      blocks_->push_back(std::make_shared<nn::Conv2d>(conv == 0 ? in : out, out, 3, rng, same));
      blocks_->push_back(std::make_shared<nn::BatchNorm2d>(out));
      blocks_->push_back(std::make_shared<nn::ReLU>());
    }
    blocks_->push_back(std::make_shared<nn::MaxPool2d>(2));
    in = out;
  }
  blocks_->push_back(std::make_shared<nn::GlobalAvgPool>());
  out_channels_ = in;
}

Tensor RecognizerBody::forward(const Tensor& x) { return blocks_->forward(x); }

Recognizer::Recognizer(const ModelConfig& c, fer::RandomStream& rng, uint64_t dropout_seed)
    : dropout_rng_(dropout_seed) {
  body_ = register_module("body", std::make_shared<RecognizerBody>(c, rng));
  feature_ = register_module("feature", std::make_shared<nn::Linear>(body_->out_channels(), c.feature_dim, rng));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(c.dropout, dropout_rng_));
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(c.feature_dim, c.classes, rng));
}

RecognizerOutput Recognizer::run(const Tensor& x) {
  const Tensor feature = relu(feature_->forward(body_->forward(x)));
  return {classifier_->forward(dropout_->forward(feature)), feature};
}

IdentityNet::IdentityNet(const ModelConfig& c, int64_t subjects, fer::RandomStream& rng) {
  FER_CHECK(subjects >= 2) << "IdentityNet: needs at least 2 training subjects, got " << subjects;
  body_ = register_module("body", std::make_shared<RecognizerBody>(c, rng));
  embedding_ = register_module("embedding", std::make_shared<nn::Linear>(body_->out_channels(), c.feature_dim, rng));
  head_ = register_module("head", std::make_shared<nn::Linear>(c.feature_dim, subjects, rng));
}

IdentityOutput IdentityNet::run(const Tensor& x) {
  const Tensor embedding = embedding_->forward(body_->forward(x));
  return {embedding, head_->forward(embedding)};
}

}  // namespace fer::models
