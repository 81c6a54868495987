// Training-time augmentation of one image: random crop (translation within `pad` pixels, edges
// replicated) and scale, horizontal flip, small rotation, brightness/contrast jitter.
//
// Layout: CHW float32 in [-1, 1], square `size` x `size`; `out` must not alias `in`.
// The geometric part is one inverse affine map per image sampled bilinearly, so the four
// transforms cost one interpolation, not four. Every random draw is a pure function of
// (seed, epoch, sample), so the result does not depend on which thread runs it or in what order.
// Evaluation uses no augmentation at all (the loader copies the image unchanged).
#pragma once
#include <cstdint>

namespace fer::data {

struct AugmentOptions {
  int pad = 4;                  // crop offset up to +-pad pixels
  double scale = 0.1;           // zoom factor in [1 - scale, 1 + scale]
  bool flip = true;             // horizontal flip with probability 1/2
  double rotate_degrees = 10;   // rotation in [-rotate_degrees, rotate_degrees]
  double brightness = 0.1;      // added offset in [-brightness, brightness] (units of [-1, 1])
  double contrast = 0.2;        // factor in [1 - contrast, 1 + contrast] around the image mean
};

void augment_image(const float* in, float* out, int channels, int size, const AugmentOptions& options, uint64_t seed,
                   uint64_t epoch, uint64_t sample);

}  // namespace fer::data
