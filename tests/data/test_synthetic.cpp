#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/synthetic.h"
#include "tests/data/temp_dir.h"

namespace fs = std::filesystem;
using fer::data::SynthOptions;

namespace {
std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

SynthOptions small_options(const std::string& out, uint64_t seed) {
  SynthOptions o;
  o.out_dir = out;
  o.subjects = 3;
  o.per_class = 2;
  o.size = 37;  // odd on purpose
  o.seed = seed;
  o.threads = 3;
  return o;
}

double mean_abs_difference(const fer::data::Image& a, const fer::data::Image& b) {
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(a.pixels[i] - b.pixels[i]);
  return sum / static_cast<double>(a.pixels.size());
}
}  // namespace

TEST_CASE("synthetic dataset: same seed gives identical bytes, another seed differs", "[cpu][data]") {
  fer::test::TempDir a("synth_a"), b("synth_b"), c("synth_c");
  fer::data::write_synthetic_dataset(small_options(a.path().string(), 7));
  SynthOptions single_thread = small_options(b.path().string(), 7);
  single_thread.threads = 1;  // thread count must not change the output
  fer::data::write_synthetic_dataset(single_thread);
  fer::data::write_synthetic_dataset(small_options(c.path().string(), 8));
  int files = 0, differing = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a.path())) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), a.path());
    REQUIRE(read_bytes(entry.path()) == read_bytes(b.path() / rel));
    if (rel.extension() == ".png") differing += read_bytes(entry.path()) != read_bytes(c.path() / rel);
    ++files;
  }
  REQUIRE(files == 3 * 7 * 2 + 1);
  REQUIRE(differing == 3 * 7 * 2);
}

TEST_CASE("synthetic dataset: balanced classes, manifest rows match the files", "[cpu][data]") {
  fer::test::TempDir dir("synth_manifest");
  const fer::data::SynthSummary summary = fer::data::write_synthetic_dataset(small_options(dir.path().string(), 1));
  REQUIRE(summary.images == 42);
  std::ifstream manifest(summary.manifest_path);
  std::string line;
  std::getline(manifest, line);
  REQUIRE(line == "path,label,subject");
  std::map<std::string, int> per_class;
  std::map<std::string, int> per_subject;
  while (std::getline(manifest, line)) {
    std::stringstream row(line);
    std::string path, label, subject;
    std::getline(row, path, ',');
    std::getline(row, label, ',');
    std::getline(row, subject, ',');
    REQUIRE(fs::exists(dir.path() / path));
    REQUIRE(path.rfind(label + "/" + subject + "_", 0) == 0);
    ++per_class[label];
    ++per_subject[subject];
  }
  REQUIRE(per_class.size() == 7);
  for (const auto& [label, n] : per_class) REQUIRE(n == 3 * 2);
  REQUIRE(per_subject == std::map<std::string, int>{{"S001", 14}, {"S002", 14}, {"S003", 14}});
  const fer::data::Image image = fer::data::decode_image((dir.path() / "fear/S002_001.png").string());
  REQUIRE(image.width == 37);
  REQUIRE(image.channels == 1);
}

TEST_CASE("synthetic faces: expressions change the face more than repeated neutral shots", "[cpu][data]") {
  // Same subject: the mean distance between expressions at the same index must exceed zero and
  // differ across expressions; RGB output has three distinct channels.
  SynthOptions o;
  o.size = 48;
  const fer::data::Image neutral = fer::data::render_synthetic_face(o, 0, 0, 0);
  const fer::data::Image surprise = fer::data::render_synthetic_face(o, 0, 6, 0);
  REQUIRE(mean_abs_difference(neutral, surprise) > 1.0);
  o.channels = 3;
  const fer::data::Image rgb = fer::data::render_synthetic_face(o, 0, 4, 0);
  REQUIRE(rgb.channels == 3);
  bool colored = false;
  for (size_t i = 0; i + 2 < rgb.pixels.size(); i += 3) colored |= rgb.pixels[i] != rgb.pixels[i + 2];
  REQUIRE(colored);
  REQUIRE_THROWS_WITH(fer::data::write_synthetic_dataset(SynthOptions{}), Catch::Contains("--out"));
}
