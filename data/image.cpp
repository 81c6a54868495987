// Image decoding, conversion, resizing and writing. See image.h.
#include "data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "engine/files.h"

namespace fer::data {

namespace fs = std::filesystem;

namespace {

// A decoded image larger than this is a corrupt header or not a face picture; refusing it before
// decoding keeps a bad file from allocating gigabytes. kMaxSide is stb_impl.cpp's STBI_MAX_DIMENSIONS.
constexpr int64_t kMaxPixels = int64_t{1} << 26;
constexpr int64_t kMaxSide = int64_t{1} << 16;
constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

void check_pixel_limit(int64_t width, int64_t height, const std::string& name) {
  FER_CHECK(width <= kMaxSide && height <= kMaxSide && width * height <= kMaxPixels)
      << "image " << name << " claims " << width << "x" << height << " pixels, more than the limit of "
      << kMaxSide << " per side and " << kMaxPixels << " in all (a corrupt header, or not a face picture)";
}

// The size a PNG (IHDR) or JPEG (start-of-frame) header claims, read without stb_image: stb refuses
// an image too large to decode with the failure of a file of no known type, and the message
// should name the size instead. False when neither header is found.
bool header_size(const uint8_t* bytes, size_t size, int64_t& width, int64_t& height) {
  const auto be16 = [&](size_t at) { return (int64_t{bytes[at]} << 8) | int64_t{bytes[at + 1]}; };
  const auto be32 = [&](size_t at) { return (be16(at) << 16) | be16(at + 2); };
  if (size >= 24 && std::equal(kPngSignature, kPngSignature + 8, bytes) && std::equal(bytes + 12, bytes + 16, "IHDR")) {
    width = be32(16), height = be32(20);
    return true;
  }
  if (size < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;
  for (size_t at = 2; at + 9 <= size;) {  // marker segments: FF, type, 2-byte length, payload
    if (bytes[at] != 0xFF) return false;
    const uint8_t type = bytes[at + 1];
    if (type == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (type >= 0xC0 && type <= 0xCF && type != 0xC4 && type != 0xC8 && type != 0xCC) {  // SOFn: precision, height, width
      height = be16(at + 5), width = be16(at + 7);
      return true;
    }
    at += 2 + static_cast<size_t>(be16(at + 2));
  }
  return false;
}

// Source taps and weights of one output index along one axis.
struct Taps {
  std::vector<int> index;
  std::vector<float> weight;
};

// Area averaging: output i covers source interval [i*s, (i+1)*s), s = in/out >= 1; each source
// pixel weighs by its overlap with that interval.
Taps area_taps(int i, int in, int out) {
  const double s = static_cast<double>(in) / out;
  const double lo = i * s, hi = (i + 1) * s;
  Taps taps;
  for (int j = static_cast<int>(std::floor(lo)); j < std::min(in, static_cast<int>(std::ceil(hi))); ++j) {
    const double overlap = std::min<double>(hi, j + 1) - std::max<double>(lo, j);
    if (overlap <= 0) continue;
    taps.index.push_back(j);
    taps.weight.push_back(static_cast<float>(overlap / s));
  }
  return taps;
}

// Bilinear with half-pixel centers: output i samples source coordinate (i + 0.5) * s - 0.5,
// clamped to the edge pixels.
Taps bilinear_taps(int i, int in, int out) {
  const double s = static_cast<double>(in) / out;
  const double x = std::clamp((i + 0.5) * s - 0.5, 0.0, static_cast<double>(in - 1));
  const int j0 = static_cast<int>(std::floor(x));
  const int j1 = std::min(j0 + 1, in - 1);
  const float t = static_cast<float>(x - j0);
  return Taps{{j0, j1}, {1 - t, t}};
}

std::vector<Taps> axis_taps(int in, int out) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int i = 0; i < out; ++i) taps[i] = out <= in ? area_taps(i, in, out) : bilinear_taps(i, in, out);
  return taps;
}

}  // namespace

Image::Image(int w, int h, int c) : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c, 0) {}

// stb_image grows its buffer of compressed PNG data to the length a chunk header claims before it
// reads the chunk, so a few bytes that claim a 2 GiB chunk cost 2 GiB. Walking the chunk headers
// first rejects a chunk that runs past the end of the file, naming it, before anything is allocated.
void check_png_chunks(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < 8 || !std::equal(kPngSignature, kPngSignature + 8, bytes)) return;  // not a PNG
  for (size_t at = 8; at + 8 <= size;) {
    const uint64_t length = (uint64_t{bytes[at]} << 24) | (uint64_t{bytes[at + 1]} << 16) |
                            (uint64_t{bytes[at + 2]} << 8) | uint64_t{bytes[at + 3]};
    const std::string type(reinterpret_cast<const char*>(bytes + at + 4), 4);
    if (at + 12 + length > size)
      FER_THROW() << "image " << name << ": truncated or corrupt PNG: chunk '" << type << "' of " << length
                  << " bytes at offset " << at << " runs past the end of the file (" << size << " bytes)";
    if (type == "IEND") return;
    at += 12 + length;
  }
}

Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name, int channels) {
  FER_CHECK(channels == 0 || channels == 1 || channels == 3)
      << "decode_image: channels must be 0 (as stored), 1 or 3, got " << channels << " for " << name;
  FER_CHECK(size > 0 && size <= static_cast<size_t>(INT32_MAX)) << "image " << name << ": empty or too large (" << size << " bytes)";
  const int len = static_cast<int>(size);
  int w = 0, h = 0, stored = 0;
  if (!stbi_info_from_memory(bytes, len, &w, &h, &stored)) {
    const std::string reason = stbi_failure_reason();
    int64_t claimed_w = 0, claimed_h = 0;
    if (header_size(bytes, size, claimed_w, claimed_h)) check_pixel_limit(claimed_w, claimed_h, name);
    FER_THROW() << "cannot decode image " << name << ": " << reason;
  }
  check_pixel_limit(w, h, name);
  check_png_chunks(bytes, size, name);
  const int want = channels != 0 ? channels : (stored <= 2 ? 1 : 3);
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load_from_memory(bytes, len, &w, &h, &stored, want),
                                                 stbi_image_free);
  if (!data) FER_THROW() << "cannot decode image " << name << ": " << stbi_failure_reason();
  Image image(w, h, want);
  std::copy(data.get(), data.get() + image.pixels.size(), image.pixels.begin());
  return image;
}

Image decode_image(const std::string& path, int channels) {
  FER_CHECK(!fs::is_directory(path)) << path << " is a folder, not an image file";
  std::ifstream file(path, std::ios::binary);
  FER_CHECK(file) << "cannot open image " << path;
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  FER_CHECK(!bytes.empty()) << "cannot decode image " << path << ": the file is empty";
  return decode_image_memory(bytes.data(), bytes.size(), path, channels);
}

Image convert_channels(const Image& image, int channels) {
  FER_CHECK(channels == 1 || channels == 3) << "convert_channels: channels must be 1 or 3, got " << channels;
  FER_CHECK(image.channels == 1 || image.channels == 3)
      << "convert_channels: input has " << image.channels << " channels, expected 1 or 3";
  if (image.channels == channels) return image;
  Image out(image.width, image.height, channels);
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < n; ++i) {
    if (channels == 1) {
      const uint8_t* p = &image.pixels[3 * i];
      out.pixels[i] = round_to_byte(0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]);
    } else {
      std::fill_n(&out.pixels[3 * i], 3, image.pixels[i]);
    }
  }
  return out;
}

Image resize(const Image& image, int width, int height) {
  FER_CHECK(width > 0 && height > 0) << "resize: target size must be positive, got " << width << "x" << height;
  FER_CHECK(image.width > 0 && image.height > 0) << "resize: empty input image " << image.width << "x" << image.height;
  if (width == image.width && height == image.height) return image;
  const int c = image.channels;
  // Separable: rows first into a float buffer [image.height, width, c], then columns.
  const std::vector<Taps> xt = axis_taps(image.width, width), yt = axis_taps(image.height, height);
  std::vector<float> rows(static_cast<size_t>(image.height) * width * c, 0.0f);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < width; ++x)
      for (size_t t = 0; t < xt[x].index.size(); ++t)
        for (int ch = 0; ch < c; ++ch)
          rows[(static_cast<size_t>(y) * width + x) * c + ch] += xt[x].weight[t] * image.at(xt[x].index[t], y, ch);
  Image out(width, height, c);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch) {
        float v = 0;
        for (size_t t = 0; t < yt[y].index.size(); ++t)
          v += yt[y].weight[t] * rows[(static_cast<size_t>(yt[y].index[t]) * width + x) * c + ch];
        out.at(x, y, ch) = round_to_byte(v);
      }
  return out;
}

Image load_image(const std::string& path, int size, int channels) {
  return resize(decode_image(path, channels), size, size);
}

void write_png(const std::string& path, const Image& image) {
  FER_CHECK(image.channels == 1 || image.channels == 3)
      << "write_png: " << path << ": images have 1 or 3 channels, got " << image.channels;
  FER_CHECK(image.width > 0 && image.height > 0 && image.pixels.size() == static_cast<size_t>(image.width) * image.height * image.channels)
      << "write_png: " << path << ": " << image.width << "x" << image.height << "x" << image.channels
      << " image holds " << image.pixels.size() << " bytes";
  std::string png;
  auto append = [](void* out, void* data, int bytes) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data), static_cast<size_t>(bytes));
  };
  const int ok = stbi_write_png_to_func(append, &png, image.width, image.height, image.channels, image.pixels.data(),
                                        image.width * image.channels);
  FER_CHECK(ok) << "write_png: cannot encode " << path;
  write_file_atomically(path, png);
}

void image_to_chw(const Image& image, float* out) {
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < image.channels; ++c)
      out[c * plane + i] = image.pixels[i * image.channels + c] * (1.0f / 127.5f) - 1.0f;
}

Image tile_images(const std::vector<Image>& images, int columns, int gap, uint8_t background) {
  FER_CHECK(!images.empty() && columns > 0 && gap >= 0)
      << "tile_images: need images (got " << images.size() << "), columns > 0 (got " << columns << "), gap >= 0";
  const Image& first = images.front();
  for (const Image& im : images)
    FER_CHECK(im.width == first.width && im.height == first.height && im.channels == first.channels)
        << "tile_images: every image must be " << first.width << "x" << first.height << "x" << first.channels
        << ", got " << im.width << "x" << im.height << "x" << im.channels;
  const int n = static_cast<int>(images.size());
  const int cols = std::min(columns, n), rows = (n + columns - 1) / columns;
  Image grid(cols * first.width + (cols + 1) * gap, rows * first.height + (rows + 1) * gap, first.channels);
  std::fill(grid.pixels.begin(), grid.pixels.end(), background);
  for (int k = 0; k < n; ++k) {
    const int x0 = gap + (k % columns) * (first.width + gap), y0 = gap + (k / columns) * (first.height + gap);
    for (int y = 0; y < first.height; ++y)
      std::copy_n(&images[k].pixels[static_cast<size_t>(y) * first.width * first.channels], first.width * first.channels,
                  &grid.at(x0, y0 + y, 0));
  }
  return grid;
}

}  // namespace fer::data
