// Image <-> tensor conversions, apart from image.cpp so that the fuzz targets (tests/fuzz/) can
// build the decoders without linking the engine.
#include "data/image.h"

namespace fer::data {

Tensor image_to_tensor(const Image& image) {
  Tensor t = Tensor::empty({image.channels, image.height, image.width});
  image_to_chw(image, t.data<float>());
  return t;
}

Image image_from_tensor(const Tensor& chw) {
  const Shape& s = chw.shape();
  const bool batched = s.size() == 4 && s[0] == 1;
  FER_CHECK((s.size() == 3 || batched) && (s[s.size() - 3] == 1 || s[s.size() - 3] == 3))
      << "image_from_tensor: expected [C, H, W] or [1, C, H, W] with C 1 or 3, got " << shape_str(s);
  const int c = static_cast<int>(s[s.size() - 3]), h = static_cast<int>(s[s.size() - 2]), w = static_cast<int>(s[s.size() - 1]);
  const std::vector<float> values = chw.to_vector();
  Image image(w, h, c);
  const size_t plane = static_cast<size_t>(w) * h;
  for (size_t i = 0; i < plane; ++i)
    for (int ch = 0; ch < c; ++ch) image.pixels[i * c + ch] = round_to_byte((values[ch * plane + i] + 1.0f) * 127.5f);
  return image;
}

}  // namespace fer::data
