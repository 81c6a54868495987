// What a person reads: the errors the command line prints (words only; the failed C++ check and
// its source line with --debug), classify on a folder, and report.html (the labelled confusion
// heat map, the sample grids' column names, whole-number epoch ticks, a one-epoch stage drawn as
// a point, the data's size, the run time), and --profile's phases and kernels.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/method/tiny.h"
#include "train/fields.h"
#include "train/report.h"

using namespace fer;
using namespace fer::train;
using namespace fer::train::tiny;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The part of `html` from the first `from` to the next `to` after it.
std::string section(const std::string& html, const std::string& from, const std::string& to) {
  const size_t begin = html.find(from);
  REQUIRE(begin != std::string::npos);
  return html.substr(begin, html.find(to, begin + from.size()) - begin);
}

std::vector<std::string> matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> found;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    found.push_back((*it)[1]);
  return found;
}

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
      {"eval --run " + fresh_dir("words_norun"), fresh_dir("words_norun") + " holds no config.json"},
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

TEST_CASE("svg_line_plot: whole-number ticks and a single point drawn as a point", "[cpu]") {
  PlotSeries many{"loss", {}};
  for (int e = 1; e <= 12; ++e) many.points.push_back({e, 1.0 / e});
  const std::string twelve = svg_line_plot("losses", "epoch", {many});
  REQUIRE(matches(twelve, "y=\"275\" text-anchor=\"middle\">([^<]*)<") == std::vector<std::string>{"1", "4", "7", "10"});
  REQUIRE_THAT(twelve, !Catch::Contains("<circle"));
  const std::string one = svg_line_plot("losses", "epoch", {PlotSeries{"loss", {{1, 0.7}}}});
  REQUIRE(matches(one, "y=\"275\" text-anchor=\"middle\">([^<]*)<") == std::vector<std::string>{"1"});
  REQUIRE_THAT(one, Catch::Contains("<circle"));
}

TEST_CASE("the report labels the confusion heat map and the sample grids and gives the data's size and the run time",
          "[cpu]") {
  const TrainRequest r = tiny_run("synth", "report_run");  // one epoch per stage, sample grids of G
  const nlohmann::json summary = run_training(r);
  REQUIRE(summary.at("run_seconds").get<double>() > 0);
  REQUIRE(summary.at("resumed") == false);
  const std::string html = read_text(r.out + "/report.html");
  const auto classes = summary.at("classes").get<std::vector<std::string>>();
  REQUIRE_THAT(html, Catch::Contains("<p>Run time: ") && Catch::Contains("84 images of 7 classes, 6 subjects") &&
                         Catch::Contains("Split: 3-fold cross-validation, subject-independent"));

  const std::string confusion = section(html, "<h2>Confusion matrix", "<h2>");
  REQUIRE_THAT(confusion, Catch::Contains(">predicted</text>") && Catch::Contains(">true</text>") &&
                              Catch::Contains(">recall</text>"));
  for (const std::string& c : classes) REQUIRE(count_of(confusion, ">" + c + "</text>") == 2);  // a row and a column
  int64_t counted = 0;
  for (const std::string& n : matches(confusion, "fill=\"(?:white|black)\">([0-9]+)</text>")) counted += std::stoll(n);
  REQUIRE(counted == summary.at("folds").at(0).at("test_images").get<int64_t>());
  REQUIRE(read_text(r.out + "/plots/confusion.svg") + "\n" == confusion.substr(confusion.find("<svg")));

  std::string columns = "<span>x</span><span>x_rec</span>";
  for (const std::string& c : classes) columns += "<span>" + c + "</span>";
  REQUIRE(count_of(html, columns) == 2);  // the grids of stage 1 and stage 2

  const std::string curves = section(html, "<h2>Training curves", "<h2>Samples");
  const auto ticks = matches(curves, "y=\"275\" text-anchor=\"middle\">([^<]*)<");
  REQUIRE_FALSE(ticks.empty());
  for (const std::string& t : ticks) REQUIRE(t == "1");  // every stage has one epoch
  REQUIRE(count_of(curves, "<svg") > 0);
  REQUIRE(count_of(curves, "<svg") <= count_of(curves, "<circle"));  // each plot shows its point
}

TEST_CASE("fer train with profile: the phases of a run add up to its wall time, and the report shows them", "[cpu]") {
  TrainRequest r = tiny_request("joint-rdbp", "profile");
  r.config.stage0.epochs = 1;
  r.config.stage1.epochs = 1;
  r.config.stage2.epochs = 2;
  r.profile = true;
  const auto started = std::chrono::steady_clock::now();
  run_training(r);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const nlohmann::json profile = nlohmann::json::parse(read_text(r.out + "/profile.json"));
  double phase_sum = 0, other = 0;
  std::set<std::string> names;
  for (const nlohmann::json& p : profile.at("phases")) {
    const double w = p.at("wall_seconds").get<double>();
    REQUIRE(w >= 0);
    REQUIRE(p.at("cpu_seconds").get<double>() >= 0);
    phase_sum += w;
    names.insert(p.at("name").get<std::string>());
    if (p.at("name") == "other") other = w;
  }
  INFO("wall " << wall << " s, phases " << phase_sum << " s, other " << other << " s");
  REQUIRE(std::abs(phase_sum - wall) <= 0.05 * wall);
  REQUIRE(other <= 0.05 * wall);  // the named phases cover the run
  REQUIRE(profile.at("wall_seconds").get<double>() == Approx(phase_sum));
  for (const char* expected : {"data loading", "setup", "batches", "forward", "backward", "optimizer", "evaluation",
                               "judge", "samples", "checkpoints", "report", "divergence checks", "other"})
    REQUIRE(names.count(expected) == 1);
  REQUIRE(!profile.at("kernels").empty());
  REQUIRE(profile.at("kernels")[0].at("calls").get<int64_t>() > 0);

  const std::string html = read_text(r.out + "/report.html");
  const std::string part = section(html, "<h2>Where the time went", "<h2>");
  REQUIRE(part.find("<td>backward</td>") != std::string::npos);
  REQUIRE(part.find("conv2d_forward") != std::string::npos);
}

TEST_CASE("a run without --profile has no profile.json and no profile section", "[cpu]") {
  TrainRequest plain = tiny_request("baseline", "profile_off");
  plain.config.stage2.epochs = 1;
  run_training(plain);
  REQUIRE(!fs::exists(plain.out + "/profile.json"));
  REQUIRE(read_text(plain.out + "/report.html").find("Where the time went") == std::string::npos);
}
