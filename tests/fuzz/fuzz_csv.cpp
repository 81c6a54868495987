// libFuzzer target: the FER2013 and manifest CSV readers (the first byte picks the reader).
// Any input may be rejected with fer::Error; a crash, a hang or an ASan report is a bug.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "data/csv.h"
#include "kernels/common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  try {
    if (data[0] & 1)
      fer::data::read_fer2013_csv(in, "fuzz.csv");
    else
      fer::data::read_manifest_csv(in, "fuzz.csv");
  } catch (const fer::Error&) {
  }
  return 0;
}
