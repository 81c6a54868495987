#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "tests/data/temp_dir.h"

using fer::data::Image;
using fer::test::TempDir;

namespace {
Image ramp(int w, int h, int c) {
  Image im(w, h, c);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<uint8_t>((i * 37) % 256);
  return im;
}
}  // namespace

TEST_CASE("write_png and decode_image round-trip gray and RGB", "[cpu][data]") {
  TempDir dir("png");
  for (int c : {1, 3}) {
    const Image im = ramp(7, 5, c);
    const std::string path = dir.file("ramp" + std::to_string(c) + ".png");
    fer::data::write_png(path, im);
    const Image back = fer::data::decode_image(path);
    REQUIRE(back.width == 7);
    REQUIRE(back.height == 5);
    REQUIRE(back.channels == c);
    REQUIRE(back.pixels == im.pixels);
  }
}

TEST_CASE("convert_channels uses BT.601 luma and replicates gray", "[cpu][data]") {
  Image rgb(2, 1, 3);
  rgb.pixels = {255, 0, 0, 10, 200, 30};
  const Image gray = fer::data::convert_channels(rgb, 1);
  REQUIRE(gray.pixels == std::vector<uint8_t>{76, 124});  // 0.299*255, 0.299*10+0.587*200+0.114*30
  const Image back = fer::data::convert_channels(gray, 3);
  REQUIRE(back.pixels == std::vector<uint8_t>{76, 76, 76, 124, 124, 124});
}

TEST_CASE("resize averages areas when shrinking", "[cpu][data]") {
  Image im(4, 2, 1);
  im.pixels = {0, 10, 20, 30, 40, 50, 60, 70};
  const Image half = fer::data::resize(im, 2, 1);
  REQUIRE(half.pixels == std::vector<uint8_t>{25, 45});  // means of 2x2 blocks
  // 3 -> 2: each output covers 1.5 source pixels: (a + b/2) / 1.5 and (b/2 + c) / 1.5.
  Image row(3, 1, 1);
  row.pixels = {0, 90, 180};
  REQUIRE(fer::data::resize(row, 2, 1).pixels == std::vector<uint8_t>{30, 150});
}

TEST_CASE("resize interpolates bilinearly with half-pixel centers when growing", "[cpu][data]") {
  Image im(2, 1, 1);
  im.pixels = {0, 255};
  // PyTorch F.interpolate(mode="bilinear", align_corners=False) gives 0, 63.75, 191.25, 255.
  REQUIRE(fer::data::resize(im, 4, 1).pixels == std::vector<uint8_t>{0, 64, 191, 255});
  const Image tall = fer::data::resize(im, 4, 3);
  REQUIRE(tall.height == 3);
  for (int y = 0; y < 3; ++y) REQUIRE(tall.at(1, y, 0) == 64);
}

TEST_CASE("decode_image names the file and the reason for corrupt input", "[cpu][data]") {
  TempDir dir("corrupt");
  const std::string text = dir.file("not_an_image.png");
  fer::test::write_text(text, "this is not a picture");
  REQUIRE_THROWS_WITH(fer::data::decode_image(text),
                      Catch::Contains("not_an_image.png") && Catch::Contains("cannot decode"));

  const std::string good = dir.file("good.png");
  fer::data::write_png(good, ramp(33, 17, 1));
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = dir.file("truncated.png");
  fer::test::write_text(truncated, bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_WITH(fer::data::decode_image(truncated), Catch::Contains("truncated.png"));

  // A chunk whose length runs past the end of the file (the fuzzer's 2 GiB allocation in
  // stb_image, tests/fuzz/corpus/image/png_chunk_past_end.png) is rejected before decoding.
  std::ifstream lying_in(std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/png_chunk_past_end.png", std::ios::binary);
  const std::string lying((std::istreambuf_iterator<char>(lying_in)), std::istreambuf_iterator<char>());
  REQUIRE(lying.size() > 33);
  REQUIRE_THROWS_WITH(fer::data::decode_image_memory(reinterpret_cast<const uint8_t*>(lying.data()), lying.size(), "lying.png"),
                      Catch::Contains("lying.png: truncated or corrupt PNG: chunk 'IDAT'") &&
                          Catch::Contains("runs past the end of the file"));

  const std::string empty = dir.file("empty.png");
  fer::test::write_text(empty, "");
  REQUIRE_THROWS_WITH(fer::data::decode_image(empty), Catch::Contains("empty.png") && Catch::Contains("empty"));
  REQUIRE_THROWS_WITH(fer::data::decode_image(dir.file("missing.png")), Catch::Contains("missing.png"));
}

TEST_CASE("decode_image names the claimed size of a header over the pixel limit, also where stb_image refuses it", "[cpu][data]") {
  TempDir dir("huge");
  const std::string good = dir.file("good.png");
  fer::data::write_png(good, ramp(6, 6, 1));
  std::ifstream in(good, std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto decode = [](const std::string& bytes, const std::string& name) {
    return fer::data::decode_image_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
  };
  for (const auto& [w, h] : {std::pair{"\0\0\xEA\x60", "\0\0\xEA\x60"}, std::pair{"\0\x01\0\x01", "\0\0\0\x01"}}) {
    std::string huge = png;  // IHDR width and height, big-endian
    huge.replace(16, 4, std::string(w, 4));
    huge.replace(20, 4, std::string(h, 4));
    INFO(huge.substr(16, 8));
    REQUIRE_THROWS_WITH(decode(huge, "huge.png"), Catch::Contains("huge.png claims ") && Catch::Contains("more than the limit of 65536 per side"));
  }
  REQUIRE_THROWS_WITH(decode(png.substr(0, 24), "huge.png") , !Catch::Contains("claims"));
  // JPEG: start of image, then a baseline start-of-frame claiming 60000 x 60000 (after an APP0 segment).
  const std::string jpeg("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x0B\x08\xEA\x60\xEA\x60\x01\x01\x11\x00", 21);
  REQUIRE_THROWS_WITH(decode(jpeg, "huge.jpg"), Catch::Contains("huge.jpg claims 60000x60000 pixels"));
}

TEST_CASE("image_to_tensor scales to [-1, 1] in CHW and image_from_tensor inverts it", "[cpu][data]") {
  Image im(2, 1, 3);
  im.pixels = {0, 255, 51, 102, 153, 204};
  const fer::Tensor t = fer::data::image_to_tensor(im);
  REQUIRE(t.shape() == fer::Shape{3, 1, 2});
  const std::vector<float> v = t.to_vector();
  REQUIRE(v[0] == Approx(-1.0));  // channel 0, pixel 0
  REQUIRE(v[1] == Approx(102 / 127.5 - 1));  // channel 0, pixel 1
  REQUIRE(v[2] == Approx(1.0));  // channel 1, pixel 0
  REQUIRE(fer::data::image_from_tensor(t).pixels == im.pixels);
  REQUIRE_THROWS_WITH(fer::data::image_from_tensor(fer::Tensor::zeros({2, 4, 4})), Catch::Contains("[2, 4, 4]"));
}

TEST_CASE("tile_images lays images out in rows with gaps", "[cpu][data]") {
  const std::vector<Image> images(5, ramp(3, 2, 1));
  const Image grid = fer::data::tile_images(images, 3, 1, 0);
  REQUIRE(grid.width == 3 * 3 + 4);
  REQUIRE(grid.height == 2 * 2 + 3);
  REQUIRE(grid.at(1 + 4, 1 + 3, 0) == images[4].at(0, 0, 0));  // image 4: row 1, column 1
  REQUIRE(grid.at(0, 0, 0) == 0);
}
