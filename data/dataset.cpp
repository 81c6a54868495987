// Dataset loading. See dataset.h for the formats and rules.
#include "data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "data/classes.h"
#include "data/csv.h"
#include "data/parallel.h"

namespace fer::data {

namespace fs = std::filesystem;

bool has_image_extension(const std::string& path) {
  static const std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tga"};
  const std::string ext = to_lower(fs::path(path).extension().string());
  return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

std::vector<std::string> image_files_in(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.' && has_image_extension(entry.path()))
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

DatasetFormat detect_format(const fs::path& path) {
  if (fs::is_directory(path)) return fs::is_regular_file(path / "manifest.csv") ? DatasetFormat::Manifest : DatasetFormat::Folder;
  FER_CHECK(fs::is_regular_file(path)) << "dataset: " << path.string() << " does not exist";
  FER_CHECK(to_lower(path.extension().string()) == ".csv")
      << "dataset: cannot tell the format of " << path.string() << " (expected a folder or a .csv file)";
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::string> header = read_csv_header(in, path.string());
  if (std::find(header.begin(), header.end(), "pixels") != header.end()) return DatasetFormat::Fer2013;
  if (std::find(header.begin(), header.end(), "path") != header.end()) return DatasetFormat::Manifest;
  FER_THROW() << "dataset: " << path.string() << ": the header has neither a 'pixels' column (FER2013: emotion,pixels,Usage) "
              << "nor a 'path' column (manifest: path,label,subject[,split])";
}

std::regex subject_regex(const std::string& subject_pattern) {
  std::regex pattern;
  try {
    pattern = std::regex(subject_pattern);
  } catch (const std::regex_error& e) {
    FER_THROW() << "dataset: invalid subject pattern '" << subject_pattern << "' (data.subject_pattern): " << e.what();
  }
  FER_CHECK(pattern.mark_count() >= 1) << "dataset: the subject pattern '" << subject_pattern
                                       << "' (data.subject_pattern) has no capture group; its first group is the subject";
  return pattern;
}

std::string subject_from_name(const std::string& file_name, const std::regex& pattern) {
  std::smatch match;
  return std::regex_search(file_name, match, pattern) ? match[1].str() : std::string();
}

// Folder format: one record per image file of the class folders in `wanted` (every folder when it
// is empty; the others go to `ignored`). Class folders are checked here because an empty or
// misnamed folder is the usual mistake.
std::vector<Record> read_folder(const fs::path& root, const std::regex& pattern, const std::vector<std::string>& wanted,
                                std::vector<std::string>& ignored) {
  FER_CHECK(fs::is_directory(root)) << "dataset: " << root.string() << " is not a folder";
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && entry.path().filename().string()[0] != '.') class_dirs.push_back(entry.path());
  std::sort(class_dirs.begin(), class_dirs.end());
  FER_CHECK(!class_dirs.empty()) << "dataset: " << root.string() << " has no class folders (expected ROOT/<class>/<image>)";
  std::vector<Record> records;
  for (const fs::path& dir : class_dirs) {
    const std::string name = dir.filename().string();
    const std::optional<std::string> known = find_class(name);
    if (!wanted.empty() && (!known || std::find(wanted.begin(), wanted.end(), *known) == wanted.end())) {
      ignored.push_back(name);
      continue;
    }
    const std::string label = canonical_class(name, "dataset: folder " + dir.string());
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    const auto images = std::count_if(files.begin(), files.end(), has_image_extension);
    FER_CHECK(images > 0) << "dataset: class folder " << dir.string() << " holds no images ("
                          << "png, jpg, jpeg, bmp, pgm, ppm, tga)";
    for (const fs::path& file : files) {
      Record r;
      r.path = file.string();
      r.label = label;
      r.subject = subject_from_name(file.filename().string(), pattern);
      records.push_back(std::move(r));
    }
  }
  return records;
}

// A manifest path must name a file inside the manifest's folder.
void check_inside(const Record& r, const fs::path& manifest) {
  const fs::path relative = fs::path(r.path).lexically_normal();
  FER_CHECK(!relative.has_root_path() && (relative.empty() || *relative.begin() != ".."))
      << "dataset: " << manifest.string() << ": line " << r.line << ": path '" << r.path << "' leaves the dataset folder "
      << manifest.parent_path().string() << " (paths are relative to the manifest's folder, without '..' out of it)";
}

std::vector<Record> read_csv_file(const fs::path& path, DatasetFormat format) {
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in) << "dataset: cannot open " << path.string();
  if (format == DatasetFormat::Fer2013) return read_fer2013_csv(in, path.string());
  std::vector<Record> records = read_manifest_csv(in, path.string());
  for (Record& r : records) {
    check_inside(r, path);
    const fs::path file = path.parent_path() / r.path;
    FER_CHECK(fs::is_regular_file(file)) << "dataset: " << path.string() << ": line " << r.line << ": image "
                                         << file.string() << " does not exist";
    r.path = file.string();
  }
  return records;
}

std::string record_where(const Record& r, const std::string& source) {
  return r.line > 0 ? source + ": line " + std::to_string(r.line) : source;
}

// Canonical class of a record's label: FER2013 and manifests may store the canonical index.
std::string record_class(const Record& r, const std::string& source) {
  const std::string where = record_where(r, source);
  const std::vector<std::string>& canonical = canonical_classes();
  if (!r.label.empty() && std::all_of(r.label.begin(), r.label.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const size_t index = r.label.size() <= 3 ? std::stoul(r.label) : canonical.size();
    FER_CHECK(index < canonical.size()) << where << ": class index " << r.label << " is not in 0.."
                                        << canonical.size() - 1 << " (" << known_classes_text() << ")";
    return canonical[index];
  }
  return canonical_class(r.label, where);
}

// The canonical names of the requested class subset, in the order given.
std::vector<std::string> wanted_classes(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const std::string c = canonical_class(name, "dataset: class subset");
    FER_CHECK(std::find(out.begin(), out.end(), c) == out.end()) << "dataset: class '" << c << "' appears twice in the class subset";
    out.push_back(c);
  }
  return out;
}

// The dataset's class list: the requested subset in its order, or the classes present in
// canonical order.
std::vector<std::string> choose_classes(const std::vector<std::string>& present, const std::vector<std::string>& wanted,
                                        const std::string& source) {
  if (wanted.empty()) {
    std::vector<std::string> out;
    for (const std::string& c : canonical_classes())
      if (std::find(present.begin(), present.end(), c) != present.end()) out.push_back(c);
    return out;
  }
  for (const std::string& c : wanted)
    FER_CHECK(std::find(present.begin(), present.end(), c) != present.end())
        << "dataset: " << source << " has no samples of class '" << c << "' requested in the class subset";
  return wanted;
}

// Every record has a subject, or the error names the first few without one and how to fix it.
// A file of the folder format that is no image by its extension (a README, say) is skipped
// later and needs none.
void require_subjects(const std::vector<Record>& records, const fs::path& source, DatasetFormat format,
                      const std::string& subject_pattern) {
  std::vector<std::string> examples;
  int64_t missing = 0, images = 0;
  for (const Record& r : records) {
    if (format == DatasetFormat::Folder && !has_image_extension(r.path)) continue;
    ++images;
    if (!r.subject.empty()) continue;
    if (++missing > 3) continue;
    examples.push_back(format == DatasetFormat::Folder ? fs::path(r.path).lexically_relative(source).string()
                                                       : "line " + std::to_string(r.line));
  }
  if (missing == 0) return;
  std::ostringstream e;
  e << "dataset: " << source.string() << ": " << missing << " of " << images;
  if (format == DatasetFormat::Folder)
    e << " file names do not match the subject pattern '" << subject_pattern
      << "' (--subject-pattern, data.subject_pattern; its first group is the subject), e.g. ";
  else
    e << " rows have no subject (the 'subject' column is missing or empty), e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) e << (i ? ", " : "") << examples[i];
  e << (format == DatasetFormat::Folder ? ": give a pattern that matches them" : ": add the subject IDs")
    << ", or say that the data has no subjects (--no-subjects, data.no_subjects; the split is then not "
       "subject-independent)";
  FER_THROW() << e.str();
}

// Decoded, converted and resized pixels of one record, or the reason it cannot be read.
struct Decoded {
  std::vector<uint8_t> pixels;
  std::string error;
};

Decoded decode_record(const Record& r, int size, int channels) {
  Decoded d;
  try {
    Image image;
    if (r.path.empty()) {
      image = Image(kFer2013Side, kFer2013Side, 1);
      image.pixels = r.pixels;
      image = resize(convert_channels(image, channels), size, size);
    } else {
      FER_CHECK(has_image_extension(r.path)) << r.path << " is not an image file (by its extension)";
      image = load_image(r.path, size, channels);
    }
    d.pixels = std::move(image.pixels);
  } catch (const Error& e) {
    d.error = e.words();
  }
  return d;
}

}  // namespace

DatasetFormat parse_dataset_format(const std::string& name) {
  if (name == "auto") return DatasetFormat::Auto;
  if (name == "folder") return DatasetFormat::Folder;
  if (name == "fer2013") return DatasetFormat::Fer2013;
  if (name == "manifest") return DatasetFormat::Manifest;
  FER_THROW() << "unknown dataset format '" << name << "' (known: auto, folder, fer2013, manifest)";
}

const char* dataset_format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::Auto: return "auto";
    case DatasetFormat::Folder: return "folder";
    case DatasetFormat::Fer2013: return "fer2013";
    case DatasetFormat::Manifest: return "manifest";
  }
  return "?";
}

Image Dataset::image(int64_t i) const {
  FER_CHECK(i >= 0 && i < static_cast<int64_t>(samples.size()))
      << "Dataset::image: index " << i << " out of range for " << samples.size() << " samples";
  const Sample& s = samples[i];
  if (s.pixels.empty()) return load_image(s.path, size, channels);
  Image image(size, size, channels);
  image.pixels = s.pixels;
  return image;
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (const Sample& s : samples) ++counts[s.label];
  return counts;
}

int64_t Dataset::subject_count() const {
  std::set<std::string> subjects;
  for (const Sample& s : samples)
    if (!s.subject.empty()) subjects.insert(s.subject);
  return static_cast<int64_t>(subjects.size());
}

bool Dataset::has_split_values() const {
  return std::any_of(samples.begin(), samples.end(), [](const Sample& s) { return !s.split.empty(); });
}

SplitPart split_part(const std::string& value, const std::string& where) {
  const std::string v = to_lower(value);
  if (v == "train" || v == "training") return SplitPart::Train;
  if (v == "val" || v == "valid" || v == "validation" || v == "publictest") return SplitPart::Val;
  if (v == "test" || v == "privatetest") return SplitPart::Test;
  FER_THROW() << where << ": split value '" << value << "' names no part (known: train, training; val, valid, "
              << "validation, PublicTest; test, PrivateTest)";
}

std::string left_out_text(const Dataset& ds, size_t shown) {
  std::ostringstream t;
  const size_t skipped = ds.skipped_files.size();
  if (skipped > 0) {
    t << "dataset: skipped " << skipped << " of " << skipped + ds.samples.size() << " files:";
    for (size_t i = 0; i < std::min(shown, skipped); ++i) t << "\n  " << ds.skipped_files[i];
    if (skipped > shown) t << "\n  ... and " << skipped - shown << " more";
  }
  if (!ds.ignored_folders.empty()) {
    t << (skipped > 0 ? "\n" : "") << "dataset: folders outside the class subset, left out:";
    for (const std::string& f : ds.ignored_folders) t << " " << f;
  }
  return t.str();
}

Dataset load_dataset(const DatasetOptions& o) {
  FER_CHECK(o.size > 0 && (o.channels == 1 || o.channels == 3))
      << "dataset: size must be positive and channels 1 or 3, got size " << o.size << ", channels " << o.channels;
  fs::path path(o.path);
  Dataset ds;
  ds.format = o.format == DatasetFormat::Auto ? detect_format(path) : o.format;
  if (ds.format == DatasetFormat::Manifest && fs::is_directory(path)) path /= "manifest.csv";
  ds.size = o.size;
  ds.channels = o.channels;
  const std::vector<std::string> wanted = wanted_classes(o.classes);
  std::vector<Record> records = ds.format == DatasetFormat::Folder
                                    ? read_folder(path, subject_regex(o.subject_pattern), wanted, ds.ignored_folders)
                                    : read_csv_file(path, ds.format);
  std::vector<std::string> record_classes, present;
  for (const Record& r : records) {
    record_classes.push_back(record_class(r, path.string()));
    if (std::find(present.begin(), present.end(), record_classes.back()) == present.end()) present.push_back(record_classes.back());
  }
  ds.class_names = choose_classes(present, wanted, path.string());  // a missing requested class first
  FER_CHECK(!records.empty()) << "dataset: " << path.string() << " lists no samples";
  std::vector<Record> kept;
  std::vector<int> labels;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto it = std::find(ds.class_names.begin(), ds.class_names.end(), record_classes[i]);
    if (it == ds.class_names.end()) continue;
    labels.push_back(static_cast<int>(it - ds.class_names.begin()));
    kept.push_back(std::move(records[i]));
  }
  ds.has_subjects = ds.format != DatasetFormat::Fer2013 && !o.no_subjects;
  if (ds.has_subjects) require_subjects(kept, path, ds.format, o.subject_pattern);
  for (Record& r : kept) {
    if (!ds.has_subjects) r.subject.clear();
    if (!r.split.empty()) split_part(r.split, record_where(r, path.string()));
  }

  std::vector<Decoded> decoded(kept.size());
  parallel_for(static_cast<int64_t>(kept.size()), o.threads, [&](int64_t i) { decoded[i] = decode_record(kept[i], o.size, o.channels); });
  const bool cache = static_cast<int64_t>(kept.size()) * o.size * o.size * o.channels <= o.cache_bytes;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!decoded[i].error.empty()) {
      FER_CHECK(!o.strict) << decoded[i].error << " (--strict, data.strict: unreadable images are errors)";
      ds.skipped_files.push_back(decoded[i].error);
      continue;
    }
    Sample s{kept[i].path, labels[i], kept[i].subject, kept[i].split, {}, kept[i].line};
    if (cache || kept[i].path.empty()) s.pixels = std::move(decoded[i].pixels);
    ds.samples.push_back(std::move(s));
  }
  FER_CHECK(!ds.samples.empty()) << "dataset: " << path.string() << ": every one of " << kept.size() << " images failed to decode";
  return ds;
}

}  // namespace fer::data
