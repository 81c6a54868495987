// Image augmentation. See augment.h.
#include "data/augment.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/random.h"

namespace fer::data {

namespace {

// Bilinear sample of one channel at (x, y) in pixel coordinates (centres at integers), with the
// edge pixels repeated outside the image: padding that looks like the border, not a black frame.
float sample_bilinear(const float* plane, int size, float x, float y) {
  x = std::clamp(x, 0.0f, static_cast<float>(size - 1));
  y = std::clamp(y, 0.0f, static_cast<float>(size - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, size - 1), y1 = std::min(y0 + 1, size - 1);
  const float tx = x - x0, ty = y - y0;
  const float top = plane[y0 * size + x0] * (1 - tx) + plane[y0 * size + x1] * tx;
  const float bottom = plane[y1 * size + x0] * (1 - tx) + plane[y1 * size + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}

}  // namespace

void augment_image(const float* in, float* out, int channels, int size, const AugmentOptions& o, uint64_t seed,
                   uint64_t epoch, uint64_t sample) {
  const uint64_t key = mix64(mix64(mix64(seed) ^ epoch) ^ sample);
  auto uniform = [&](uint64_t draw, double lo, double hi) { return lo + (hi - lo) * random_uniform(key, draw); };
  const float zoom = static_cast<float>(uniform(0, 1 - o.scale, 1 + o.scale));
  const float angle = static_cast<float>(uniform(1, -o.rotate_degrees, o.rotate_degrees) * 3.14159265358979 / 180);
  const bool flip = o.flip && random_uniform(key, 2) < 0.5f;
  const float shift_x = static_cast<float>(std::floor(uniform(3, -o.pad, o.pad + 1)));
  const float shift_y = static_cast<float>(std::floor(uniform(4, -o.pad, o.pad + 1)));
  const float contrast = static_cast<float>(uniform(5, 1 - o.contrast, 1 + o.contrast));
  const float brightness = static_cast<float>(uniform(6, -o.brightness, o.brightness));

  // Output pixel -> source pixel: about the image centre, undo zoom and rotation, flip, shift.
  const float centre = (size - 1) * 0.5f, c = std::cos(angle) / zoom, s = std::sin(angle) / zoom;
  const size_t plane = static_cast<size_t>(size) * size;
  for (int ch = 0; ch < channels; ++ch) {
    const float* src = in + ch * plane;
    float* dst = out + ch * plane;
    double sum = 0;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const float u = (flip ? centre - x : x - centre), v = y - centre;
        const float v_out = sample_bilinear(src, size, c * u - s * v + centre + shift_x, s * u + c * v + centre + shift_y);
        dst[y * size + x] = v_out;
        sum += v_out;
      }
    const float mean = static_cast<float>(sum / plane);
    for (size_t i = 0; i < plane; ++i) dst[i] = std::clamp((dst[i] - mean) * contrast + mean + brightness, -1.0f, 1.0f);
  }
}

}  // namespace fer::data
