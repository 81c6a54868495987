// Datasets: the three on-disk formats, class names, subjects, and image validation.
//
//   folder    ROOT/<class>/**/<file>.png|jpg|jpeg|bmp|pgm|ppm|tga  (class folders named by a
//             canonical name or an alias, case-insensitive; nested subfolders allowed)
//   fer2013   a CSV file emotion,pixels[,Usage] (48x48 gray images inline)
//   manifest  a CSV file path,label,subject[,split], paths relative to the file's folder
//   auto      a .csv file: fer2013 if its header has a pixels column, else manifest;
//             a folder: its manifest.csv if there is one, else folder
//
// Labels index Dataset::class_names: the classes present in canonical order (classes.h), or the
// requested subset in the order given. Subjects come from the manifest, or (folder format) from
// the first capture group of `subject_pattern` applied to the file name; FER2013 has none.
// Every image is decoded once at load (on `threads` threads) to find corrupt files: they are
// skipped with a warning each and counted, or throw under `strict`. Decoded, resized pixels are
// kept in memory while the whole dataset fits in `cache_bytes`; otherwise the loader decodes
// again on its threads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace fer::data {

enum class DatasetFormat { Auto, Folder, Fer2013, Manifest };

DatasetFormat parse_dataset_format(const std::string& name);  // auto, folder, fer2013, manifest
const char* dataset_format_name(DatasetFormat format);

struct DatasetOptions {
  std::string path;                          // a folder or a .csv file
  DatasetFormat format = DatasetFormat::Auto;
  std::vector<std::string> classes;          // subset (names or aliases); empty: every class present
  std::string subject_pattern = R"(^(S\d+)_)";  // ECMAScript regex; group 1 is the subject
  int size = 64;                             // images are resized to size x size
  int channels = 1;                          // 1 gray, 3 RGB
  bool strict = false;                       // corrupt images are errors instead of warnings
  int threads = 0;                           // decoding threads; 0: hardware concurrency
  int64_t cache_bytes = int64_t{1} << 30;    // keep decoded pixels when they fit
};

struct Sample {
  std::string path;             // image file; empty for FER2013 rows
  int label = 0;                // index into Dataset::class_names
  std::string subject;          // empty when unknown
  std::string split;            // manifest split / FER2013 Usage; may be empty
  std::vector<uint8_t> pixels;  // size*size*channels HWC when cached, else empty
};

struct Dataset {
  DatasetFormat format = DatasetFormat::Auto;
  std::vector<std::string> class_names;
  std::vector<Sample> samples;
  int size = 0;
  int channels = 0;
  int64_t skipped = 0;                // corrupt images left out
  std::vector<std::string> warnings;  // one per skipped image, naming it

  // Sample i's image at size x size x channels (from the cache, or decoded now).
  Image image(int64_t i) const;
  std::vector<int64_t> class_counts() const;
};

Dataset load_dataset(const DatasetOptions& options);

}  // namespace fer::data
