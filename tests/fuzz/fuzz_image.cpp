// libFuzzer target: image decoding, channel conversion and resizing on arbitrary bytes.
// Any input may be rejected with fer::Error; a crash, a leak or an ASan report is a bug.
// Inputs that declare more than a megapixel are skipped: a few compressed bytes can declare a
// legal 60-megapixel image, whose decode under ASan outlasts libFuzzer's per-input timeout
// without exercising any new code.
#include <stb_image.h>

#include <cstddef>
#include <cstdint>

#include "data/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int w = 0, h = 0, channels = 0;
  if (size < 1 << 20 && stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels) &&
      static_cast<int64_t>(w) * h > (1 << 20))
    return 0;
  try {
    const fer::data::Image image = fer::data::decode_image_memory(data, size, "fuzz input");
    const fer::data::Image gray = fer::data::convert_channels(image, 1);
    fer::data::resize(gray, 13, 11);
    fer::data::resize(fer::data::convert_channels(image, 3), 2 * image.width + 1, 1);
  } catch (const fer::Error&) {
  }
  return 0;
}
