// The sizes of every model of the method (docs/design.md "Models"); each is a config field.
#pragma once
#include <cstdint>
#include <string>

namespace fer::models {

struct ModelConfig {
  int64_t image_size = 64;    // S: a multiple of 16 in [16, 128] (16 only for tests)
  int64_t channels = 1;       // C: 1 (gray) or 3 (RGB)
  int64_t classes = 7;        // K: expressions
  int64_t latent = 50;        // d: identity code size
  double width = 1.0;         // w: multiplies every convolution channel count
  int64_t feature_dim = 256;  // recognizer feature f / identity embedding size (not scaled by w)
  double dropout = 0.5;       // recognizer dropout before the classifier

  // Channels of a layer that has `base` channels at width 1 (at least 1).
  int64_t ch(int64_t base) const;
  int64_t s4() const { return image_size / 16; }  // spatial size of the smallest feature map
  // Throws naming the field when a value is out of range.
  void validate() const;
};

}  // namespace fer::models
