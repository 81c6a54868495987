// What a person reads: the errors the command line prints (words only; the failed C++ check and
// its source line with --debug), classify on a folder.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/method/tiny.h"
#include "train/fields.h"

using namespace fer;
using namespace fer::train;
using namespace fer::train::tiny;

namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TrainRequest tiny_run(const std::string& mode, const std::string& name) {
  TrainRequest r;
  r.config = tiny_config(mode, "cpu");
  r.data = tiny_dataset();
  r.quiet = true;
  r.out = fresh_dir(name);
  return r;
}

// The tiny configuration as a --config file, for runs from the command line.
std::string tiny_config_file(const std::string& name) {
  TrainConfig config = tiny_config("baseline", "cpu");
  FieldSet fields;
  config.bind(fields);
  const std::string path = fresh_dir(name) + ".json";
  std::ofstream(path) << fields.to_json().dump();
  return path;
}

}  // namespace

TEST_CASE("fer prints errors in words; --debug adds the failed check and its source line", "[cpu]") {
  const TrainRequest run = tiny_run("baseline", "words_run");
  run_training(run);
  const std::string files = fresh_dir("words_files");
  fs::create_directories(files + "/no_images");
  std::ofstream(files + "/face.png") << "not a png";
  const std::string broken = fresh_dir("words_broken_run");
  fs::copy(run.out, broken, fs::copy_options::recursive);
  fs::resize_file(broken + "/checkpoints/fold0_best_R.safetensors", 100);
  const std::string face = tiny_dataset() + "/happiness/S001_000.png";

  struct Case {
    std::string args, words;
  };
  std::vector<Case> cases = {
      {"train --data " + tiny_dataset() + " --set stage1.lrr=1", "unknown config key 'stage1.lrr'"},
      {"train --data /no/such/faces --out " + fresh_dir("words_nodata"), "/no/such/faces does not exist"},
      {"classify --run " + run.out + " " + files + "/face.png", "cannot decode image " + files + "/face.png"},
      {"classify --run " + run.out + " " + files + "/no_images", files + "/no_images is a folder without image files"},
      {"classify --run " + broken + " " + face, "safetensors '" + broken + "/checkpoints/fold0_best_R.safetensors': truncated"},
      {"train --data " + tiny_dataset() + " --config " + tiny_config_file("words_config") +
           " --set stage2.lr=1e6 --quiet --overwrite --out " + fresh_dir("words_diverged"),
       "training diverged (learning rate stage2.lr = 1e+06)"}};
  try {
    check_device_usable("cuda");
  } catch (const Error&) {  // no GPU here: the message says so in words
    cases.push_back({"train --data /no/such/faces --device cuda --out " + fresh_dir("words_cuda"), "--device cuda: "});
  }
  for (const Case& c : cases) {
    INFO(c.args);
    const auto [plain, plain_status] = run_fer(c.args, true);
    REQUIRE(plain_status == 1);
    REQUIRE_THAT(plain, Catch::Contains(c.words) && !Catch::Contains("[/") && !Catch::Contains("check failed"));
    const auto [debug, debug_status] = run_fer("--debug " + c.args, true);
    REQUIRE(debug_status == 1);
    REQUIRE_THAT(debug, Catch::Contains(c.words) && Catch::Contains("[/") && Catch::Contains(".cpp:"));
  }
  // --debug stands anywhere; a failed FER_CHECK names its expression.
  REQUIRE_THAT(run_fer("train --data /no/such/faces --out " + fresh_dir("words_nodata") + " --debug", true).first,
               Catch::Contains("check failed: "));
  const auto [usage, usage_status] = run_fer("train --modee baseline", true);
  REQUIRE(usage_status == 2);
  REQUIRE_THAT(usage, Catch::Contains("unknown flag --modee") && !Catch::Contains("[/"));
}

TEST_CASE("classify takes image files and folders of them", "[cpu]") {
  const TrainRequest run = tiny_run("baseline", "classify_run");
  run_training(run);
  const std::string folder = tiny_dataset() + "/happiness";
  const auto [out, status] = run_fer("classify --run " + run.out + " " + folder + " " + folder + "/S002_001.png");
  REQUIRE(status == 0);
  REQUIRE(count_of(out, "\n") == 6 * 2 + 1);  // 6 subjects x 2 images, then the file again
  REQUIRE_THAT(out, Catch::StartsWith(folder + "/S001_000.png: ") && Catch::Contains(folder + "/S006_001.png: "));
}
