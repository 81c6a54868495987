// `fer ablate` and what it stands on: the statistics against hand computations and reference
// quantiles, every mode over 2 folds into one comparison, a killed ablation resumed to the
// comparison of an uninterrupted one, refused folders and settings; and the judge of G's faces
// (a copying generator scores the judge's real accuracy, a constant one chance) with a run's
// result independent of whether it is judged.
#include <omp.h>

#include <cmath>
#include <fstream>

#include "engine/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "tests/method/tiny.h"
#include "tests/support/compare.h"
#include "train/ablate.h"
#include "train/cli.h"
#include "train/stats.h"
#include "train/synthesis.h"

using namespace fer;
using namespace fer::train;
using namespace fer::train::tiny;

namespace {

AblateRequest tiny_ablation(const std::string& name) {
  AblateRequest r;
  r.config = tiny_config("baseline", "cpu");
  r.config.protocol.folds = 2;
  r.config.protocol.val_fraction = 0.5;  // a fold's 3 training subjects: 2 parts, one validates
  r.data = tiny_dataset();
  r.out = fresh_dir(name);
  r.quiet = true;
  return r;
}

}  // namespace

TEST_CASE("student_t_quantile matches the tables", "[cpu]") {
  // Two-sided 95% critical values (any statistics table) and a one-sided 99% one.
  const std::pair<double, double> table[] = {{1, 12.706204736}, {2, 4.302652730}, {4, 2.776445105},
                                             {9, 2.262157163},  {30, 2.042272456}, {1000, 1.962339081}};
  for (const auto& [df, t] : table) {
    INFO("df " << df);
    REQUIRE(std::fabs(student_t_quantile(0.975, df) - t) < 1e-8);
    REQUIRE(std::fabs(student_t_quantile(0.025, df) + t) < 1e-8);
    REQUIRE(std::fabs(student_t_cdf(t, df) - 0.975) < 1e-10);
  }
  REQUIRE(std::fabs(student_t_quantile(0.99, 5) - 3.364929997) < 1e-8);
  REQUIRE(student_t_cdf(0, 3) == 0.5);
  REQUIRE_THROWS_WITH(student_t_quantile(1, 3), Catch::Contains("must be in (0, 1)"));
}

TEST_CASE("paired_comparison against a hand computation", "[cpu]") {
  const std::vector<double> a = {0.50, 0.60, 0.55, 0.70, 0.65}, b = {0.45, 0.50, 0.56, 0.60, 0.60};
  // d = 0.05, 0.10, -0.01, 0.10, 0.05: mean 0.058; squared deviations 0.000064, 0.001764,
  // 0.004624, 0.001764, 0.000064 sum to 0.00828, so sd = sqrt(0.00828 / 4) = 0.0454972527;
  // se = sd / sqrt(5) = 0.0203469899; half width t(0.975, 4) * se = 0.0564923006.
  const PairedComparison c = paired_comparison(a, b);
  REQUIRE(c.n == 5);
  REQUIRE(std::fabs(c.mean_diff - 0.058) < 1e-12);
  REQUIRE(std::fabs(c.sd_diff - 0.0454972527) < 1e-9);
  REQUIRE(std::fabs(c.t_low - (0.058 - 0.0564923006)) < 1e-9);
  REQUIRE(std::fabs(c.t_high - (0.058 + 0.0564923006)) < 1e-9);
  // t = 0.058 / se = 2.8505442; two-sided p of t(4) at that value.
  REQUIRE(std::fabs(c.p_value - 2 * student_t_cdf(-0.058 / 0.0203469899, 4)) < 1e-9);
  REQUIRE((c.p_value > 0.04 && c.p_value < 0.05));
  REQUIRE(c.wins == 4);
  REQUIRE(c.losses == 1);
  REQUIRE(c.ties == 0);
  // The bootstrap means lie between the smallest and largest difference and bracket the mean;
  // the same seed gives the same interval.
  REQUIRE((c.boot_low >= -0.01 && c.boot_low < 0.058 && c.boot_high > 0.058 && c.boot_high <= 0.10));
  REQUIRE(paired_comparison(a, b).boot_low == c.boot_low);
  REQUIRE(c.significant());  // both intervals exclude 0

  const PairedComparison same = paired_comparison({0.4, 0.5, 0.6}, {0.4, 0.5, 0.6});
  REQUIRE(same.ties == 3);
  REQUIRE((same.t_low == 0 && same.t_high == 0 && same.boot_low == 0 && same.boot_high == 0));
  REQUIRE_FALSE(same.significant());
  const PairedComparison one = paired_comparison({0.9}, {0.1});
  REQUIRE(one.n == 1);
  REQUIRE_FALSE(one.significant());  // one unit: no interval
  REQUIRE_THROWS_WITH(paired_comparison({0.1}, {0.1, 0.2}), Catch::Contains("the same number"));
}

TEST_CASE("ablate runs every mode over 2 folds into one comparison", "[cpu]") {
  const AblateRequest r = tiny_ablation("ablate_all");
  const nlohmann::json c = run_ablation(r);
  REQUIRE(c.at("modes") == nlohmann::json(mode_names()));
  REQUIRE(c.at("reference") == "baseline");
  REQUIRE(c.at("units").size() == 2);
  REQUIRE(c.at("paired").size() == 4);
  // The statistics are those of the units' own summary.json files.
  std::map<std::string, std::vector<double>> accuracy;
  for (const std::string& m : mode_names())
    for (int f = 0; f < 2; ++f) {
      const fs::path run = fs::path(r.out) / m / ("repeat0-fold" + std::to_string(f));
      const nlohmann::json s = read_json((run / "summary.json").string());
      REQUIRE(s.at("mode") == m);
      REQUIRE(s.at("folds").at(0).at("fold") == f);
      accuracy[m].push_back(s.at("folds").at(0).at("accuracy"));
      REQUIRE(fs::exists(run / "report.html"));
    }
  for (const std::string& m : mode_names()) {
    INFO(m);
    REQUIRE(c.at("per_mode").at(m).at("mean").get<double>() == mean_of(accuracy[m]));
    REQUIRE(c.at("per_mode").at(m).at("std").get<double>() == sample_std(accuracy[m]));
    if (m == "baseline") continue;
    const PairedComparison p = paired_comparison(accuracy[m], accuracy["baseline"]);
    REQUIRE(c.at("paired").at(m).at("mean_diff").get<double>() == p.mean_diff);
    REQUIRE(c.at("paired").at(m).at("t_low").get<double>() == p.t_low);
    REQUIRE(c.at("paired").at(m).at("boot_high").get<double>() == p.boot_high);
    REQUIRE(c.at("paired").at(m).at("wins").get<int64_t>() + c.at("paired").at(m).at("ties").get<int64_t>() +
                c.at("paired").at(m).at("losses").get<int64_t>() ==
            2);
  }
  // The generator modes were judged by the baseline unit's recognizer of the same fold.
  const TrainConfig joint = load_run_config(r.out + "/joint-rdbp/repeat0-fold1");
  REQUIRE(joint.judge.checkpoint ==
          fs::absolute(r.out + "/baseline/repeat0-fold1/checkpoints/fold1_best_R.safetensors").lexically_normal().string());
  REQUIRE_FALSE(fs::exists(r.out + "/joint-rdbp/repeat0-fold1/judge"));
  for (const char* file : {"ablation.json", "comparison.json", "report.html"}) REQUIRE(fs::exists(fs::path(r.out) / file));
  REQUIRE(read_json(r.out + "/comparison.json") == c);
  std::ifstream html(r.out + "/report.html");
  const std::string report((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  REQUIRE_THAT(report, Catch::Contains("The units' run times add up to ") &&
                           Catch::Contains("<h2>Data</h2>\n<p>84 images of 7 classes, 6 subjects") &&
                           Catch::Contains("<span>x</span><span>x_rec</span><span>anger</span>"));
  const std::string table = comparison_table(c);
  REQUIRE_THAT(table, Catch::Contains("joint-rdbp vs baseline: "));
  REQUIRE_THAT(table, Catch::Contains("1 repeat(s) x 2 subject-independent folds"));
}

TEST_CASE("ablate on data without subjects says its folds are not subject-independent", "[cpu]") {
  AblateRequest r = tiny_ablation("ablate_no_subjects");
  r.modes = {"baseline"};
  r.config.data.no_subjects = true;
  const nlohmann::json c = run_ablation(r);
  REQUIRE(c.at("subject_independent") == false);
  REQUIRE_THAT(comparison_table(c), Catch::Contains("2 folds, not subject-independent (the data has no subject IDs)"));
  std::ifstream html(r.out + "/report.html");
  const std::string report((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  REQUIRE_THAT(report, Catch::Contains("not subject-independent"));
}

TEST_CASE("a killed ablation resumed gives the uninterrupted comparison", "[cpu]") {
  AblateRequest r = tiny_ablation("ablate_whole");
  r.modes = {"baseline", "joint-rdbp"};
  r.repeats = 2;
  const nlohmann::json whole = run_ablation(r);
  REQUIRE(whole.at("units").size() == 4);

  r.out = fresh_dir("ablate_killed");
  r.stop_unit = 3;  // joint-rdbp, repeat 0, fold 1, inside stage 1
  r.stop_after_steps = 5;
  REQUIRE_THROWS_AS(run_ablation(r), Interrupted);
  REQUIRE_FALSE(fs::exists(r.out + "/comparison.json"));
  REQUIRE_THROWS_WITH(run_ablation(r), Catch::Contains("is not empty") && Catch::Contains("--resume"));
  r.resume = true;
  r.stop_unit = -1;
  AblateRequest other = r;
  other.repeats = 3;
  REQUIRE_THROWS_WITH(run_ablation(other), Catch::Contains("'repeats' differs"));
  other = r;
  other.config.stage2.lr = 0.5;
  REQUIRE_THROWS_WITH(run_ablation(other), Catch::Contains("'config.stage2.lr' differs"));
  const nlohmann::json resumed = run_ablation(r);
  REQUIRE(resumed == whole);
}

TEST_CASE("ablate --jobs 2 trains units as child processes to the same comparison", "[cpu]") {
  omp_set_num_threads(1);  // the in-process ablation on the children's thread count
  AblateRequest r = tiny_ablation("ablate_here");
  r.modes = {"joint", "baseline"};
  const nlohmann::json here = run_ablation(r);
  const std::string here_dir = r.out;
  r.out = fresh_dir("ablate_jobs");
  r.jobs = 2;
  r.threads_per_job = 1;
  r.fer_binary = FER_BINARY_DIR "/fer";
  REQUIRE(run_ablation(r) == here);
  REQUIRE(fs::exists(r.out + "/joint/repeat0-fold1/train.log"));
  // Not only the (tiny, near-chance) accuracies: the trained weights are the same.
  const std::string weights = "/joint/repeat0-fold1/checkpoints/fold1.safetensors";
  const auto in_process = load_safetensors(here_dir + weights), children = load_safetensors(r.out + weights);
  REQUIRE(children.size() == in_process.size());
  for (const auto& [name, tensor] : in_process) {
    INFO(name);
    REQUIRE_CLOSE(children.at(name), tensor, 0, 0);
  }

  r.out = fresh_dir("ablate_jobs_fail");
  r.data = "/nonexistent/faces";
  REQUIRE_THROWS_WITH(run_ablation(r), Catch::StartsWith("ablate: baseline, repeat 0, fold ") &&
                                           Catch::Contains(" failed (exit 1)") &&
                                           Catch::Contains("train.log") && Catch::Contains("/nonexistent/faces"));
}

TEST_CASE("ablate and its command refuse bad requests before training", "[cpu]") {
  AblateRequest r = tiny_ablation("ablate_bad");
  r.modes = {"baseline", "jiont"};
  REQUIRE_THROWS_WITH(run_ablation(r), Catch::Contains("did you mean 'joint'"));
  REQUIRE_FALSE(fs::exists(r.out));
  r.modes = {"baseline"};
  r.resume = true;
  REQUIRE_THROWS_WITH(run_ablation(r), Catch::Contains("holds no ablation to continue"));
  REQUIRE(run_command({"ablate", "--data", tiny_dataset(), "--modes", "baseline,baseline", "--out", r.out}) == 1);
  REQUIRE(run_command({"ablate", "--data", tiny_dataset(), "--repeats", "x"}) == 2);
  r.resume = false;
  r.config.protocol.kind = "fixed";
  REQUIRE_THROWS_WITH(run_ablation(r), Catch::Contains("ablate: protocol.kind fixed"));
}

TEST_CASE("the judge scores a copying generator at its real accuracy and a constant one at chance", "[cpu]") {
  const TrainConfig config = tiny_config("joint-rdbp", "cpu");
  const FoldData fold = tiny_fold(config);
  const int64_t K = config.model.classes;
  // A judge that knows the validation faces well (trained on them: this tests the probe, not the judge).
  RandomStream rng(3);
  models::Recognizer judge(config.model, rng, 1);
  optim::AdamOptions o;
  o.lr = 1e-2;
  optim::Adam adam(judge.parameters(), o);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < fold.val.size(); ++i) all.push_back(i);
  const Batch val = make_batch(fold.val, all, Device::CPU);
  for (int step = 0; step < 40; ++step) {
    adam.zero_grad();
    cross_entropy(judge.forward(val.images), val.labels).backward();
    adam.step();
  }
  judge.eval();
  const double real = evaluate_recognizer(judge, fold.val, K, Device::CPU).accuracy();
  judge.eval();  // evaluate_recognizer leaves it in training mode
  REQUIRE(real > 1.5 / static_cast<double>(K));

  // Row r of a decode call with label k becomes validation face r of class k: with as many probe
  // faces as there are faces per class, every validation face is drawn once per pass.
  int64_t per_class = fold.val.size() / K;
  std::map<int64_t, std::vector<int64_t>> of_class;
  for (int64_t i = 0; i < fold.val.size(); ++i) of_class[static_cast<int64_t>(fold.val.labels[static_cast<size_t>(i)])].push_back(i);
  for (const auto& [k, rows] : of_class) REQUIRE(static_cast<int64_t>(rows.size()) == per_class);
  FaceSource copying;
  copying.latent = config.model.latent;
  copying.encode = [&](const Tensor& x) { return Tensor::zeros({x.size(0), config.model.latent}); };
  copying.decode = [&](const Tensor& codes, const Tensor& labels) {
    const std::vector<float> y = labels.to_vector();
    std::vector<int64_t> rows;
    for (int64_t r = 0; r < codes.size(0); ++r) rows.push_back(of_class.at(static_cast<int64_t>(y[static_cast<size_t>(r)]))[static_cast<size_t>(r % per_class)]);
    return make_batch(fold.val, rows, Device::CPU).images;
  };
  SynthesisProbe probe;
  probe.real = &fold.val;
  probe.faces = per_class;
  probe.classes = K;
  probe.device = Device::CPU;
  const SynthesisScores copied = score_synthesis(judge, nullptr, copying, probe);
  REQUIRE(copied.judge_real == real);
  REQUIRE(copied.fidelity_prior == real);
  REQUIRE(copied.fidelity_transfer == real);
  REQUIRE(std::isnan(copied.identity));

  FaceSource constant = copying;
  constant.decode = [&](const Tensor& codes, const Tensor&) {
    return make_batch(fold.val, std::vector<int64_t>(static_cast<size_t>(codes.size(0)), 0), Device::CPU).images;
  };
  const SynthesisScores flat = score_synthesis(judge, nullptr, constant, probe);
  REQUIRE(flat.fidelity_prior == 1.0 / static_cast<double>(K));
  REQUIRE(flat.fidelity_transfer == 1.0 / static_cast<double>(K));
  REQUIRE(flat.diversity == 0);
}

TEST_CASE("judging G's faces changes nothing of the run", "[cpu]") {
  TrainRequest r = tiny_request("joint-rdbp", "unjudged");
  r.config.judge.enabled = false;
  const nlohmann::json unjudged = run_training(r);
  const auto unjudged_weights = load_safetensors(r.out + "/checkpoints/fold0.safetensors");
  r.config.judge.enabled = true;
  r.out = fresh_dir("judged");
  const nlohmann::json judged = run_training(r);
  REQUIRE(judged.at("folds").at(0).at("confusion") == unjudged.at("folds").at(0).at("confusion"));
  const auto judged_weights = load_safetensors(r.out + "/checkpoints/fold0.safetensors");
  REQUIRE(judged_weights.size() == unjudged_weights.size());
  for (const auto& [name, tensor] : unjudged_weights) {
    INFO(name);
    REQUIRE_CLOSE(judged_weights.at(name), tensor, 0, 0);
  }
  // Every epoch record of stages 1 and 2 carries the scores; the judge was trained in judge/.
  std::ifstream metrics(r.out + "/metrics.jsonl");
  std::string line;
  int scored = 0;
  while (std::getline(metrics, line)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.at("stage") == "stage0") continue;
    REQUIRE(record.contains("synthesis"));
    const double fidelity = record.at("synthesis").at("fidelity_prior");
    REQUIRE((fidelity >= 0 && fidelity <= 1));
    ++scored;
  }
  REQUIRE(scored == 2);
  REQUIRE(fs::exists(r.out + "/judge/checkpoints/fold0_best_R.safetensors"));
}

TEST_CASE("fer ablate interrupted says where every unit's checkpoint is and exits 130", "[cpu]") {
  const std::string out = fresh_dir("ablate_ctrl_c");
  request_interrupt();  // as a Ctrl-C before the first step
  const int status = run_command({"ablate", "--data", tiny_dataset(), "--folds", "2", "--modes", "baseline", "--out", out,
                                  "--quiet", "--set", "model.image_size=16", "--set", "model.width=0.125",
                                  "--set", "stage2.epochs=1", "--set", "stage2.batch_size=4", "--set", "protocol.val_fraction=0.5"});
  clear_interrupt();
  REQUIRE(status == 130);
  REQUIRE(fs::exists(out + "/baseline/repeat0-fold0/checkpoints/fold0.safetensors"));
  REQUIRE(run_command({"ablate", "--data", tiny_dataset(), "--folds", "2", "--modes", "baseline", "--out", out,
                       "--quiet", "--resume", "--set", "model.image_size=16", "--set", "model.width=0.125",
                       "--set", "stage2.epochs=1", "--set", "stage2.batch_size=4", "--set", "protocol.val_fraction=0.5"}) == 0);
  REQUIRE(fs::exists(out + "/comparison.json"));
}
