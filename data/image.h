// 8-bit images: decoding (stb_image), channel conversion, resizing, PNG writing, and the
// conversion to and from float tensors in [-1, 1].
//
// Layout: Image::pixels is row-major, channels interleaved (HWC), one byte per value, as stb
// reads and writes it. Tensors are CHW (or 1CHW), float32, value = byte / 127.5 - 1.
// Threading: every function is pure (no shared state), so any number of threads may decode at
// once; stb_image's failure reason is thread-local (STBI_THREAD_LOCAL), so messages do not mix.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fer::data {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height * width * channels, HWC

  Image() = default;
  Image(int width, int height, int channels);  // zero-filled
  uint8_t& at(int x, int y, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t at(int x, int y, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// A value on the 0..255 scale, rounded to the nearest byte and clamped.
inline uint8_t round_to_byte(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// Decodes PNG, JPEG, BMP, PGM/PPM, TGA, GIF (first frame). `channels` 1 or 3 converts; 0 keeps
// gray as gray and everything else as RGB (alpha is dropped). A corrupt, truncated or non-image
// input throws fer::Error naming `name` (the path) and stb_image's reason; a header that claims
// more than 65536 pixels per side or 2^26 in all throws naming the claimed size.
Image decode_image(const std::string& path, int channels = 0);
Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name, int channels = 0);

// Gray <-> RGB. RGB -> gray uses the ITU-R BT.601 luma weights (what PIL's convert("L") uses).
Image convert_channels(const Image& image, int channels);

// Resizes each axis independently: area averaging where it shrinks (every source pixel counts,
// no aliasing), bilinear interpolation with half-pixel centers where it grows (PyTorch's
// align_corners=False). Computed in float, rounded once.
Image resize(const Image& image, int width, int height);

// Decode + convert + resize: what a dataset sample goes through.
Image load_image(const std::string& path, int size, int channels);

// Writes an 8-bit PNG (gray or RGB); throws naming the path when the file cannot be written.
void write_png(const std::string& path, const Image& image);

// Bytes -> float32 [C, H, W] in [-1, 1], written to `out` (C*H*W floats) or as a tensor.
void image_to_chw(const Image& image, float* out);
Tensor image_to_tensor(const Image& image);
// Float [C, H, W] or [1, C, H, W] tensor (any device) in [-1, 1] -> bytes, clamped and rounded.
// C must be 1 or 3. For writing generated faces and image grids.
Image image_from_tensor(const Tensor& chw);

// Tiles images of equal size into a grid of `columns` columns with `gap` pixels of `background`
// between them (for the method's sample grids).
Image tile_images(const std::vector<Image>& images, int columns, int gap = 2, uint8_t background = 255);

}  // namespace fer::data
