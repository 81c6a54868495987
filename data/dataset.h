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
// requested subset in the order given; with a subset, class folders of other names (or of no
// known class) are left out and listed in Dataset::ignored_folders.
// Subjects come from the manifest's subject column, or (folder format) from the first capture
// group of `subject_pattern` applied to the file name. An image without a subject is an error
// that names examples (and the pattern), unless `no_subjects` says the data has none; then every
// image is a group of its own and Dataset::has_subjects is false. FER2013 has no subjects.
// Manifest paths stay inside the manifest's folder (no absolute path, no '..' out of it).
// A split value (manifest split column, FER2013 Usage) must name a part (split_part).
// Every image is decoded once at load (on `threads` threads) to find corrupt files: they are
// skipped, each with a message in Dataset::skipped_files, or throw under `strict`. Decoded,
// resized pixels are kept in memory while the whole dataset fits in `cache_bytes`; otherwise the
// loader decodes again on its threads.
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
  bool no_subjects = false;                  // the data has no subject IDs (not subject-independent)
  bool strict = false;                       // corrupt images are errors instead of skipped
  int threads = 0;                           // decoding threads; 0: hardware concurrency
  int64_t cache_bytes = int64_t{1} << 30;    // keep decoded pixels when they fit
};

struct Sample {
  std::string path;             // image file; empty for FER2013 rows
  int label = 0;                // index into Dataset::class_names
  std::string subject;          // empty when unknown
  std::string split;            // manifest split / FER2013 Usage; may be empty
  std::vector<uint8_t> pixels;  // size*size*channels HWC when cached, else empty
  int64_t line = 0;             // line in the CSV file (fer2013, manifest); 0 for the folder format
};

// The parts of a fixed split, named by a split value.
enum class SplitPart { Train, Val, Test };
// Case-insensitive: train, training -> Train; val, valid, validation, publictest -> Val; test,
// privatetest -> Test. Throws naming `where` and the known values.
SplitPart split_part(const std::string& value, const std::string& where);

struct Dataset {
  DatasetFormat format = DatasetFormat::Auto;
  std::vector<std::string> class_names;
  std::vector<Sample> samples;
  int size = 0;
  int channels = 0;
  bool has_subjects = false;                 // every sample has a subject
  std::vector<std::string> skipped_files;    // one message per image left out, naming it and why
  std::vector<std::string> ignored_folders;  // class folders left out by the class subset

  // Sample i's image at size x size x channels (from the cache, or decoded now).
  Image image(int64_t i) const;
  std::vector<int64_t> class_counts() const;
  int64_t subject_count() const;  // distinct subjects (0 without subjects)
  bool has_split_values() const;  // some sample has a split value (a fixed split is possible)
};

// What loading left out, for a person: the first `shown` skipped files by name with the reason,
// then how many more; and the ignored folders. Empty when nothing was left out.
std::string left_out_text(const Dataset& dataset, size_t shown = 5);

Dataset load_dataset(const DatasetOptions& options);

// Whether a file name ends in an extension of the image formats (png, jpg, jpeg, bmp, pgm, ppm,
// tga; any case): the folder format's images, and the files of a folder that classify reads.
bool has_image_extension(const std::string& path);

// The image files (by extension) directly in `folder`, sorted; hidden files and subfolders are left out.
std::vector<std::string> image_files_in(const std::string& folder);

}  // namespace fer::data
