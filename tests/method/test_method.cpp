// The method end to end on tiny configurations: model shapes, every stage's step, the joint
// stage's generator gradient from the recognizer's loss alone, resume equal to an uninterrupted
// run, a NaN loss stopping the run, the command line's bad inputs, the data's own split, what
// loading left out and the split kind in summary and report, an empty validation split, and
// `fer --version` / `fer help` run as a child process.
// Every test runs on each device of kDevices; the step-level ones on kStepDevices (cpu, cuda-sim).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "data/split.h"
#include "data/synthetic.h"
#include "engine/checkpoint.h"
#include "engine/kernel_selection.h"
#include "engine/ops.h"
#include "engine/optim/average.h"
#include "engine/safetensors.h"
#include "models/fesgan.h"
#include "models/recognizer.h"
#include "tests/support/compare.h"
#include "train/cli.h"
#include "train/divergence.h"
#include "train/protocol.h"
#include "train/report.h"
#include "train/trainer.h"
#include "tests/method/tiny.h"

using namespace fer;
using namespace fer::train;
using namespace fer::train::tiny;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kDevices = {"cpu"};
// The step-level tests also run on the CUDA simulator: every kernel of the method's models on
// cuda-sim, at the tiny config's sizes (the whole run-folder tests would take minutes there).
#ifdef FER_WITH_CUDA_SIM
const std::vector<std::string> kStepDevices = {"cpu", "cuda-sim"};
#else
const std::vector<std::string> kStepDevices = {"cpu"};
#endif

RunLog& quiet_log() {
  static RunLog log((fs::temp_directory_path() / "fer_method_scratch.jsonl").string(), true);
  return log;
}

// Gradients of every parameter of a module (zeros where none flowed), concatenated.
std::vector<float> gradients(const nn::Module& m) {
  std::vector<float> out;
  for (const Tensor& p : m.parameters()) {
    const std::vector<float> g = p.grad().defined() ? p.grad().to_vector() : std::vector<float>(static_cast<size_t>(p.numel()), 0.f);
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

// A copy of the tiny dataset whose manifest lines (0: the header) are rewritten by `edit`; an
// empty result drops the line. Returns the folder.
std::string tiny_copy(const std::string& name, const std::function<std::string(const std::string&, size_t)>& edit) {
  const std::string dir = fresh_dir(name);
  fs::copy(tiny_dataset(), dir, fs::copy_options::recursive);
  std::ifstream in(dir + "/manifest.csv");
  std::ostringstream out;
  std::string line;
  for (size_t number = 0; std::getline(in, line); ++number)
    if (const std::string edited = edit(line, number); !edited.empty()) out << edited << "\n";
  in.close();
  std::ofstream(dir + "/manifest.csv") << out.str();
  return dir;
}

double abs_sum(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += std::abs(x);
  return s;
}

}  // namespace

TEST_CASE("models produce the configured shapes", "[cpu]") {
  for (int64_t size : {16, 32}) {
    models::ModelConfig c;
    c.image_size = size;
    c.channels = 3;
    c.classes = 5;
    c.latent = 7;
    c.width = 0.125;
    c.feature_dim = 9;
    RandomStream rng(1);
    models::Encoder E(c, rng);
    models::Decoder G(c, rng);
    models::ImageDiscriminator D(c, rng);
    models::LatentDiscriminator Dz(c, rng);
    models::Recognizer R(c, rng, 2);
    models::IdentityNet Id(c, 4, rng);
    const Tensor x = test::random_tensor({2, 3, size, size}, 3);
    const Tensor z = E.forward(x);
    REQUIRE(z.shape() == Shape{2, 7});
    const Tensor y = Tensor::from_vector(std::vector<float>{0, 4}, {2});
    REQUIRE(G.forward(z, y).shape() == Shape{2, 3, size, size});
    const models::DiscriminatorOutput d = D.run(x);
    REQUIRE(d.adversarial.shape() == Shape{2, 1});
    REQUIRE(d.classes.shape() == Shape{2, 5});
    REQUIRE(Dz.forward(z).shape() == Shape{2, 1});
    const models::RecognizerOutput r = R.run(x);
    REQUIRE(r.logits.shape() == Shape{2, 5});
    REQUIRE(r.feature.shape() == Shape{2, 9});
    REQUIRE(Id.run(x).logits.shape() == Shape{2, 4});
    // Spectral norm on every weight of D_img.
    for (const auto& [name, buffer] : D.named_buffers()) REQUIRE(name.find("weight_u") != std::string::npos);
    REQUIRE(D.named_buffers().size() == 6);
  }
  models::ModelConfig bad;
  bad.image_size = 40;
  RandomStream rng(0);
  REQUIRE_THROWS_WITH(models::Encoder(bad, rng), Catch::Contains("model.image_size 40"));
}

TEST_CASE("stage steps run on a tiny config and change the weights", "[cpu][cuda-sim]") {
  for (const std::string& device : kStepDevices) {
    INFO("device " << device);
    const TrainConfig config = tiny_config("joint-rdbp", device);
    FoldTrainer t(config, tiny_fold(config), fresh_dir("steps"), 0, quiet_log());
    REQUIRE(t.uses_identity());
    const Batch batch = t.batch_of(tiny_fold(config).train, {0, 1, 2, 3});
    auto check = [](const LossValues& losses) {
      REQUIRE(!losses.empty());
      for (const auto& [name, value] : losses) {
        INFO(name);
        REQUIRE(std::isfinite(value));
      }
    };
    const std::vector<float> g_before = t.generator().parameters()[0].to_vector();
    const std::vector<float> r_before = t.recognizer().parameters()[0].to_vector();
    for (int i = 0; i < 2; ++i) {
      check(t.identity_step(batch));
      check(t.fesgan_step(batch));
      check(t.joint_step(batch));
    }
    REQUIRE(t.generator().parameters()[0].to_vector() != g_before);
    REQUIRE(t.recognizer().parameters()[0].to_vector() != r_before);
  }
}

TEST_CASE("batch_of augments training images reproducibly and keeps the labels", "[cpu]") {
  for (const std::string& device : kDevices) {
    TrainConfig config = tiny_config("baseline", device);
    const FoldData data = tiny_fold(config);
    const std::vector<int64_t> rows = {0, 3, 5, 6};
    auto batch = [&](const TrainConfig& c) {
      FoldTrainer t(c, data, fresh_dir("augment"), 0, quiet_log());
      return std::pair{t.batch_of(data.train, rows), t.batch_of(data.train, rows)};
    };
    const auto [first, second] = batch(config);
    const auto [again, unused] = batch(config);
    REQUIRE_CLOSE(first.images, again.images, 0, 0);  // same seed: same transforms
    REQUIRE(first.images.to_vector() != second.images.to_vector());  // each batch draws its own
    REQUIRE(first.labels.to_vector() == make_batch(data.train, rows, Device::CPU).labels.to_vector());
    for (float v : first.images.to_vector()) REQUIRE((v >= -1 && v <= 1));

    config.data.augment = false;
    const Batch plain = batch(config).first;
    REQUIRE_CLOSE(plain.images, make_batch(data.train, rows, Device::CPU).images, 0, 0);
    REQUIRE(plain.images.to_vector() != first.images.to_vector());
  }
}

TEST_CASE("data.augment_stages=recognizer augments stage 2's real batches only", "[cpu]") {
  TrainConfig config = tiny_config("joint-rdbp", "cpu");
  const FoldData data = tiny_fold(config);
  const std::vector<int64_t> rows = {0, 3, 5, 6};
  const Tensor raw = make_batch(data.train, rows, Device::CPU).images;
  auto stage_batches = [&](const TrainConfig& c) {
    FoldTrainer t(c, data, fresh_dir("augment_stages"), 0, quiet_log());
    std::vector<Tensor> out;
    for (Stage stage : kStages) out.push_back(t.batch_of(data.train, rows, stage).images);
    return out;
  };
  config.data.augment_stages = "all";
  const std::vector<Tensor> all = stage_batches(config);  // every stage augments
  for (int stage : {0, 1, 2}) {
    INFO("stage " << stage);
    REQUIRE(all[static_cast<size_t>(stage)].to_vector() != raw.to_vector());
  }

  config.data.augment_stages = "recognizer";
  FoldTrainer t(config, data, fresh_dir("augment_stages"), 0, quiet_log());
  REQUIRE(!t.augments(Stage::Identity));
  REQUIRE(!t.augments(Stage::Fesgan));
  REQUIRE(t.augments(Stage::Recognizer));
  const std::vector<Tensor> recognizer = stage_batches(config);
  REQUIRE_CLOSE(recognizer[0], raw, 0, 0);  // Id and FESGAN see the images unchanged
  REQUIRE_CLOSE(recognizer[1], raw, 0, 0);
  // Stage 2 draws the first augmentation key, as stage 0's batch does under "all".
  REQUIRE_CLOSE(recognizer[2], all[0], 0, 0);

  config.data.augment = false;  // augment off wins over the stage list
  for (const Tensor& images : stage_batches(config)) REQUIRE_CLOSE(images, raw, 0, 0);

  FieldSet fields;
  TrainConfig bound;
  bound.bind(fields);
  fields.set("data.augment_stages", "all");
  REQUIRE(bound.data.augment_stages == "all");
  REQUIRE_THROWS_WITH(fields.set("data.augment_stages", "gan"), Catch::Contains("data.augment_stages"));
  bound.data.augment_stages = "stage1";
  REQUIRE_THROWS_WITH(bound.validate(), Catch::Contains("data.augment_stages 'stage1'"));
}

TEST_CASE("stage 2 sends the recognizer's synthetic loss into the generator", "[cpu][cuda-sim]") {
  for (const std::string& device : kStepDevices) {
    INFO("device " << device);
    TrainConfig config = tiny_config("joint-rdbp", device);
    config.stage2.g_w_adv = 0;  // isolate the recognizer's term
    config.stage2.g_w_cls = 0;
    config.stage2.w_intra = 0;
    config.stage2.w_synth = 0.75;
    const FoldData data = tiny_fold(config);
    auto trainer = [&] { return std::make_unique<FoldTrainer>(config, data, fresh_dir("grad"), 0, quiet_log()); };

    // The total the step differentiates, with G's own losses switched off ...
    auto a = trainer();
    const Batch batch = a->batch_of(data.train, {0, 1, 2, 3});
    a->joint_terms(batch).total.backward();
    const std::vector<float> from_total = gradients(a->generator());
    // ... gives G exactly the gradient of w_synth * CE(R(x_s), y_s) alone (same seeds, same draws).
    auto b = trainer();
    b->batch_of(data.train, {0, 1, 2, 3});
    (b->joint_terms(batch).ce_synth * 0.75).backward();
    const std::vector<float> from_ce = gradients(b->generator());
    REQUIRE(abs_sum(from_ce) > 0);
    REQUIRE_CLOSE(Tensor::from_vector(from_total, {static_cast<int64_t>(from_total.size())}),
                  Tensor::from_vector(from_ce, {static_cast<int64_t>(from_ce.size())}), 1e-7, 1e-5);
    // The real images' loss has no path into G.
    auto c = trainer();
    c->batch_of(data.train, {0, 1, 2, 3});
    c->joint_terms(batch).ce_real.backward();
    REQUIRE(abs_sum(gradients(c->generator())) == 0);
  }
}

TEST_CASE("train runs every mode and writes the run folder", "[cpu]") {
  for (const std::string& device : kDevices) {
    for (const std::string mode : {"baseline", "synth", "joint", "joint-intra", "joint-rdbp"}) {
      TrainRequest r = tiny_request(mode, "run_" + mode, device);
      const nlohmann::json summary = run_training(r);
      INFO(mode);
      REQUIRE(summary.at("mode") == mode);
      REQUIRE(summary.at("folds").size() == 1);
      const double accuracy = summary.at("mean_accuracy");
      REQUIRE((accuracy >= 0 && accuracy <= 1));
      for (const char* file : {"config.json", "split.json", "metrics.jsonl", "summary.json", "report.html",
                               "plots/confusion.svg", "checkpoints/fold0.safetensors", "checkpoints/fold0_best_R.safetensors"})
        REQUIRE(fs::exists(fs::path(r.out) / file));
      REQUIRE(fs::exists(fs::path(r.out) / "samples/fold0_stage2_epoch0.png") == (mode != "baseline"));
    }
  }
}

TEST_CASE("train --resume after an interruption equals an uninterrupted run", "[cpu]") {
  // Also with stages 0 and 1 unaugmented: they then draw no augmentation keys.
  for (const std::string augment_stages : {"all", "recognizer"}) {
    for (const std::string& device : kDevices) {
      INFO("data.augment_stages " << augment_stages);
      TrainRequest r = tiny_request("joint-rdbp", "whole", device);
      r.config.data.augment_stages = augment_stages;
      r.config.stage2.epochs = 2;
      if (augment_stages == "recognizer") r.config.stage2.ema_decay = 0.9;  // the average resumes too
      run_training(r);
      const auto whole = load_safetensors(r.out + "/checkpoints/fold0.safetensors");

      r.out = fresh_dir("resumed");
      r.stop_after_steps = 9;  // inside stage 1
      REQUIRE_THROWS_AS(run_training(r), Interrupted);
      r.stop_after_steps = 7;  // inside stage 2 this time
      r.resume = true;
      REQUIRE_THROWS_AS(run_training(r), Interrupted);
      r.stop_after_steps = -1;
      run_training(r);
      const auto resumed = load_safetensors(r.out + "/checkpoints/fold0.safetensors");
      REQUIRE(resumed.size() == whole.size());
      for (const auto& [name, tensor] : whole) {
        INFO(name);
        REQUIRE_CLOSE(resumed.at(name), tensor, 0, 0);
      }
    }
  }
}

TEST_CASE("stage2.ema_decay: the average of R's weights is what validation selects and the test measures", "[cpu]") {
  TrainConfig config = tiny_config("baseline", "cpu");
  config.stage2.ema_decay = 0.9;
  config.stage2.epochs = 1;
  const std::string dir = fresh_dir("ema");
  RunLog log(dir + "/metrics.jsonl", true);
  // Each step: R_ema <- d * R_ema + (1 - d) * R with d = warmed_up_decay(0.9, step), read from the
  // checkpoints before and after step 4.
  constexpr int64_t kStep = 3;  // 0-based index of the checked step
  auto checkpoint_after = [&](int64_t steps, bool resume) {
    FoldTrainer trainer(config, tiny_fold(config), dir, 0, log);
    trainer.stop_after(steps);
    REQUIRE_THROWS_AS(trainer.run(resume), Interrupted);
    return load_safetensors(trainer.checkpoint_path());
  };
  const auto before = checkpoint_after(kStep, false), after = checkpoint_after(1, true);
  const double d = fer::optim::warmed_up_decay(0.9, kStep);
  const std::string prefix = "module.R_ema.";
  int64_t checked = 0;
  for (const auto& [name, average] : after) {
    if (name.rfind(prefix, 0) != 0) continue;
    INFO(name);
    const Tensor expected = before.at(name) * d + after.at("module.R." + name.substr(prefix.size())) * (1 - d);
    REQUIRE_CLOSE(average, expected, 1e-7, 1e-6);
    ++checked;
  }
  RandomStream unused(0);
  REQUIRE(checked == static_cast<int64_t>(models::Recognizer(config.model, unused, 0).state_dict().size()));
  REQUIRE(after.at("module.R_ema.classifier.weight").to_vector() != after.at("module.R.classifier.weight").to_vector());

  // One epoch: the selected recognizer is the average at its end, and the test fold measures it.
  FoldTrainer trainer(config, tiny_fold(config), dir, 0, log);
  const FoldResult result = trainer.run(true);
  models::Recognizer& average = trainer.evaluated_recognizer();
  REQUIRE(&average != &trainer.recognizer());
  const auto best = load_safetensors(trainer.best_recognizer_path());
  for (const auto& [name, tensor] : average.state_dict()) REQUIRE_CLOSE(best.at("module.R." + name), tensor, 0, 0);
  const FoldData fold = tiny_fold(config);
  REQUIRE(evaluate_recognizer(average, fold.test, config.model.classes, Device::CPU).accuracy() ==
          result.test.accuracy());
  config.stage2.ema_decay = 0;  // R itself
  FoldTrainer plain(config, tiny_fold(config), fresh_dir("ema_off"), 0, log);
  REQUIRE(&plain.evaluated_recognizer() == &plain.recognizer());
  REQUIRE(plain.objects().modules.count("R_ema") == 0);
  config.stage2.ema_decay = 1;
  REQUIRE_THROWS_WITH(config.validate(), Catch::Contains("stage2.ema_decay 1 must be in [0, 1)"));
}

TEST_CASE("a judge made for other classes or another image size is refused, naming the difference", "[cpu]") {
  TrainRequest judge = tiny_request("baseline", "judge16");
  judge.config.data.classes = "anger,disgust";
  run_training(judge);
  const std::string path = judge.out + "/checkpoints/fold0_best_R.safetensors";

  TrainRequest r = judge;  // the same shapes: 2 classes, 16 px
  r.config.mode = "synth";
  r.config.judge.checkpoint = path;
  r.config.data.classes = "fear,happiness";
  r.out = fresh_dir("judged");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains(path) && Catch::Contains("made for something else") &&
                                           Catch::Contains(R"(classes: ["anger","disgust"] in the file, ["fear","happiness"] here)"));
  r.config.data.classes = "anger,disgust";
  r.config.model.image_size = 32;
  r.overwrite = true;
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("image_size: 16 in the file, 32 here"));
}

TEST_CASE("a resumed run logs every epoch once and removes what interrupted writes left", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "relog");
  r.config.stage2.epochs = 3;
  r.stop_after_steps = 12;  // inside stage 2's epoch 2 (about 8 steps an epoch)
  REQUIRE_THROWS_AS(run_training(r), Interrupted);
  // As if the process had died between logging epoch 2 and saving its checkpoint, and inside a
  // checkpoint write.
  std::ofstream(r.out + "/metrics.jsonl", std::ios::app) << R"({"fold": 0, "stage": "stage2", "epoch": 1})" << "\n";
  const std::string orphan = r.out + "/checkpoints/fold0.safetensors.tmp.a1B2c3";
  std::ofstream(orphan) << "partial";
  r.stop_after_steps = -1;
  r.resume = true;
  run_training(r);
  REQUIRE_FALSE(fs::exists(orphan));
  std::ifstream in(r.out + "/metrics.jsonl");
  std::vector<int64_t> epochs;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    REQUIRE(record.contains("val_accuracy"));  // the fake record is gone
    epochs.push_back(record.at("epoch"));
  }
  REQUIRE(epochs == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("a report file that cannot be written is an error naming it", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "report_write");
  run_training(r);
  for (const char* name : {"plots/confusion.svg", "report.html"}) {
    INFO(name);
    const fs::path blocked = fs::path(r.out) / name;  // a folder where the file goes: rename fails
    fs::remove(blocked);
    fs::create_directory(blocked);
    REQUIRE_THROWS_WITH(write_report(r.out), Catch::Contains(blocked.string()));
    fs::remove(blocked);
  }
  write_report(r.out);
  REQUIRE(fs::file_size(fs::path(r.out) / "report.html") > 0);
}

TEST_CASE("without a usable GPU --device cuda fails before the data loads, saying what to do", "[cpu]") {
  try {
    check_device_usable("cuda");
    WARN("a GPU is usable here: nothing to test");
    return;
  } catch (const Error&) {
  }
  TrainRequest r;
  r.config = tiny_config("baseline", "cuda");
  r.data = "/no/such/dataset";
  r.quiet = true;
  r.out = fresh_dir("nogpu");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("--device cuda") && Catch::Contains("--device cpu") &&
                                           !Catch::Contains("/no/such/dataset"));
  REQUIRE_NOTHROW(check_device_usable("cpu"));
}

TEST_CASE("an exploding loss stops training naming the stage, step, loss and learning rate", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "exploding");
  r.config.stage2.lr = 1e6;  // step 1 throws the weights to about 1e6
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("stage 2 (recognizer), fold 0, epoch 1, step 2: loss ") &&
                                           Catch::Contains("training diverged (learning rate stage2.lr = 1e+06)") &&
                                           Catch::Contains("last good checkpoint"));
  // Nothing was saved after the bad step: no epoch had ended, so there is no checkpoint yet.
  REQUIRE_FALSE(fs::exists(r.out + "/checkpoints/fold0.safetensors"));
  r.config.stage2.lr = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_WITH(r.config.validate(), Catch::Contains("stage2.lr inf must be a positive number"));
  r.config.stage2.lr = 1e-3;
  r.config.stage1.lr = 0;
  REQUIRE_THROWS_WITH(r.config.validate(), Catch::Contains("stage1.lr 0 must be a positive number"));
}

TEST_CASE("kernels (--kernels): native everywhere, vendor only on cuda", "[cpu]") {
  TrainConfig c = tiny_config("baseline", "cpu");
  c.kernels = "vendor";
  REQUIRE_THROWS_WITH(c.validate(), Catch::Contains("kernels vendor needs device cuda") && Catch::Contains("cpu"));
  FieldSet fields;
  c.bind(fields);
  REQUIRE_THROWS_WITH(fields.set("kernels", "cudnn"), Catch::Contains("kernels"));
  REQUIRE_NOTHROW(select_kernels(Device::CPU, KernelChoice::Native));
  REQUIRE_THROWS_WITH(select_kernels(Device::CPU, KernelChoice::Vendor), Catch::Contains("needs --device cuda"));
#ifdef FER_WITH_CUDA_SIM
  REQUIRE_NOTHROW(select_kernels(Device::CUDASim, KernelChoice::Native));
  REQUIRE_THROWS_WITH(select_kernels(Device::CUDASim, KernelChoice::Vendor), Catch::Contains("not simulated"));
#endif
  REQUIRE(run_command({"train", "--data", tiny_dataset(), "--kernels", "vendor", "--out", fresh_dir("vendor_cpu")}) == 1);
}

TEST_CASE("DivergenceWatch: non-finite or far too large losses, broken weights", "[cpu]") {
  DivergenceWatch watch;
  REQUIRE(watch.check_loss("d", 999).empty());  // no history yet: the scale is 1
  REQUIRE_THAT(watch.check_loss("ce", 1001), Catch::Contains("loss ce is 1001, over 1000 times its recent size 1"));
  REQUIRE_THAT(watch.check_loss("ce", std::nan("")), Catch::Contains("loss ce is nan"));
  for (int i = 0; i < 60; ++i) REQUIRE(watch.check_loss("rec", i < 30 ? 0.5 : 3.0).empty());
  // The median of the last 50 values (20 of 0.5, 30 of 3) is 3: 2999 passes, 3001 does not.
  REQUIRE(watch.check_loss("rec", 2999).empty());
  REQUIRE_THAT(watch.check_loss("rec", -3001), Catch::Contains("loss rec is -3001, over 1000 times its recent size 3"));
  REQUIRE(watch.check_loss("ce", 2).empty());  // rejected values did not join the window

  RandomStream rng(1);
  nn::Linear linear(3, 2, rng);
  REQUIRE(DivergenceWatch::check_weights("R", linear).empty());
  linear.weight.data<float>()[4] = 2e4f;
  REQUIRE_THAT(DivergenceWatch::check_weights("R", linear), Catch::Contains("parameter R.weight is 20000 at element 4"));
  linear.weight.data<float>()[4] = 0;
  linear.bias.data<float>()[1] = std::numeric_limits<float>::infinity();
  REQUIRE_THAT(DivergenceWatch::check_weights("R", linear), Catch::Contains("parameter R.bias is inf at element 1"));
}

TEST_CASE("fer rejects unknown flags, keys and modes with a suggestion", "[cpu]") {
  REQUIRE(run_command({"train", "--data", "x", "--modee", "baseline"}) == 2);
  REQUIRE(run_command({"trian"}) == 2);
  REQUIRE(run_command({"train", "--data", tiny_dataset(), "--set", "stage1.lrr=1"}) == 1);
  REQUIRE(run_command({"train", "--help"}) == 0);
  FieldSet fields;
  TrainConfig config;
  config.bind(fields);
  REQUIRE_THROWS_WITH(fields.set("stage1.lrr", "1"), Catch::Contains("did you mean 'stage1.lr'"));
  REQUIRE_THROWS_WITH(fields.set("model.image_sise", "1"), Catch::Contains("did you mean 'model.image_size'"));
  REQUIRE_THROWS_WITH(fields.set("mode", "joint-rdpb"), Catch::Contains("did you mean 'joint-rdbp'"));
  REQUIRE_THROWS_WITH(fields.set("stage2.epochs", "two"), Catch::Contains("not a whole number"));
  REQUIRE_THROWS_WITH(fields.load_json(nlohmann::json::parse(R"({"stage2": {"lr": 1, "bogus": 2}})"), "cfg.json"),
                      Catch::Contains("cfg.json") && Catch::Contains("stage2.bogus"));
  fields.load_json(nlohmann::json::parse(R"({"stage2": {"lr": 0.5}, "mode": "synth"})"), "cfg.json");
  REQUIRE(config.stage2.lr == 0.5);
  REQUIRE(config.mode == "synth");
  REQUIRE(fields.to_json().at("stage2").at("lr") == 0.5);
}

TEST_CASE("stage2.lr_schedule=cosine sets the recognizer's rate from the epoch", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "cosine");
  r.config.stage2.epochs = 3;
  r.config.stage2.lr = 0.004;
  r.config.stage2.lr_schedule = "cosine";
  run_training(r);
  // The last epoch (e = 2 of 3) ran at 0.004 * (1 + cos(2 pi / 3)) / 2 = 0.001.
  const auto saved = load_safetensors(r.out + "/checkpoints/fold0.safetensors");
  REQUIRE(std::fabs(saved.at("optim.R.lr").to_vector_f64().at(0) - 0.001) < 1e-12);
  FieldSet fields;
  TrainConfig config;
  config.bind(fields);
  REQUIRE_THROWS_WITH(fields.set("stage2.lr_schedule", "cosin"), Catch::Contains("did you mean 'cosine'"));
}

TEST_CASE("a fresh run never deletes a person's files; --resume needs a run", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "existing");
  fs::create_directories(r.out + "/checkpoints");
  std::ofstream(r.out + "/notes.txt") << "mine";
  std::ofstream(r.out + "/checkpoints/mine.safetensors") << "mine";
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains(r.out + " is not empty") && Catch::Contains("--resume") &&
                                           Catch::Contains("--overwrite"));
  REQUIRE(fs::exists(r.out + "/checkpoints/mine.safetensors"));
  r.overwrite = true;  // replaces fer's files and folders, keeps the rest
  run_training(r);
  REQUIRE(fs::exists(r.out + "/notes.txt"));
  REQUIRE(fs::exists(r.out + "/summary.json"));

  r.overwrite = false;
  r.resume = true;
  r.out = fresh_dir("missing");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("--resume: ") && Catch::Contains("holds no run to continue"));
  REQUIRE(run_command({"train", "--data", tiny_dataset(), "--resume", "--overwrite"}) == 2);
}

TEST_CASE("the epoch line is for a person", "[cpu]") {
  const nlohmann::json record = nlohmann::json::parse(
      R"({"fold": 0, "stage": "stage2", "epoch": 3, "loss": {"ce_real": 1.234567, "intra": 0.000123456},
          "train_accuracy": 0.5, "val_accuracy": 0.4285714, "new_best": true, "samples": "samples/x.png",
          "synthesis": {"judge_real": 0.5, "fidelity_transfer": 0.25, "fidelity_prior": 0.125, "identity": null,
                        "identity_unrelated": null, "reconstruction": 0.2, "diversity": 0.3, "diversity_real": 0.4}})");
  const std::string line = epoch_summary(record);
  REQUIRE_THAT(line, Catch::Contains("ce_real 1.235 intra 0.0001235"));
  REQUIRE_THAT(line, Catch::Contains("accuracy train 50.0%, validation 42.9% (new best)"));
  REQUIRE_THAT(line, Catch::Contains("judge: transfers 25.0%, prior faces 12.5% (real faces 50.0%)"));
  REQUIRE_THAT(line, !Catch::Contains("identity"));
  REQUIRE_THAT(line, Catch::EndsWith("samples/x.png"));
}

TEST_CASE("train uses the data's own split when asked (protocol auto or fixed): test rows are never trained on", "[cpu]") {
  // S001..S004 train, S005 and S006 test; no validation rows, so validation is dealt from the
  // training subjects.
  const std::string data = tiny_copy("fixed_data", [](const std::string& line, size_t number) {
    if (number == 0) return line + ",split";
    return line + (line.find(",S005") != std::string::npos || line.find(",S006") != std::string::npos ? ",test" : ",train");
  });
  TrainRequest r;
  r.config = tiny_config("baseline", "cpu");
  r.data = data;
  r.quiet = true;
  r.out = fresh_dir("fixed_run");
  const nlohmann::json summary = run_training(r);
  REQUIRE(summary.at("data").at("split") == "fixed");
  REQUIRE(summary.at("data").at("subject_independent") == true);
  REQUIRE(summary.at("folds").size() == 1);
  const data::Split split = data::load_split(r.out + "/split.json");
  REQUIRE(split.kind == data::SplitKind::Fixed);
  const data::Dataset dataset = load_configured_dataset(r.config, data);
  std::set<int64_t> test(split.folds[0].test.begin(), split.folds[0].test.end());
  for (size_t i = 0; i < dataset.samples.size(); ++i) {
    INFO(dataset.samples[i].path);
    REQUIRE(test.count(static_cast<int64_t>(i)) == (dataset.samples[i].split == "test"));
  }
  for (const std::vector<int64_t>* part : {&split.folds[0].train, &split.folds[0].val})
    for (int64_t i : *part) REQUIRE(test.count(i) == 0);
  REQUIRE_FALSE(split.folds[0].val.empty());
  REQUIRE(summary.at("folds").at(0).at("test_images") == test.size());

  r.config.protocol.kind = "kfold";  // asked for explicitly: the split column is not used
  r.out = fresh_dir("fixed_as_kfold");
  REQUIRE(run_training(r).at("data").at("split") == "kfold");
  r.config.protocol.kind = "auto";
  r.config.protocol.fold = 1;
  r.out = fresh_dir("fixed_fold1");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("protocol.fold 1 is not a fold of the data's fixed split"));
  r.config = tiny_config("baseline", "cpu");
  r.config.protocol.kind = "fixed";
  r.data = tiny_dataset();
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("protocol.kind fixed: the data has no split values"));
}

TEST_CASE("train says what loading left out and whether the split is subject-independent", "[cpu]") {
  // No subject column, and one row whose file is not an image.
  const std::string data = tiny_copy("no_subjects_data", [](const std::string& line, size_t number) {
    const std::string without_subject = line.substr(0, line.rfind(','));
    return number == 1 ? without_subject + "\nbroken.png,happiness" : without_subject;
  });
  std::ofstream(data + "/broken.png") << "not a png";
  TrainRequest r;
  r.config = tiny_config("baseline", "cpu");
  r.data = data;
  r.quiet = true;
  r.out = fresh_dir("no_subjects_run");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("rows have no subject") && Catch::Contains("--no-subjects"));
  REQUIRE_FALSE(fs::exists(r.out));
  r.config.data.no_subjects = true;
  const nlohmann::json summary = run_training(r);
  const nlohmann::json& d = summary.at("data");
  REQUIRE(d.at("subject_independent") == false);
  REQUIRE(d.at("skipped") == 1);
  REQUIRE_THAT(d.at("skipped_files").at(0).get<std::string>(), Catch::Contains("broken.png"));
  REQUIRE(d.at("images") == 6 * 7 * 2);
  std::ifstream html(r.out + "/report.html");
  const std::string report((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  REQUIRE_THAT(report, Catch::Contains("Split: 3-fold cross-validation, not subject-independent (the data has no subject IDs)") && Catch::Contains("Skipped files: 1") &&
                           Catch::Contains("broken.png"));
  r.config.data.strict = true;
  r.out = fresh_dir("strict_run");
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("broken.png") && Catch::Contains("--strict"));
}

TEST_CASE("an empty validation split is an error with the numbers, before anything is written", "[cpu]") {
  TrainRequest r = tiny_request("baseline", "empty_val");
  r.config.protocol.val_fraction = 0.2;  // 5 parts of a fold's 4 training subjects: none validates
  REQUIRE_THROWS_WITH(run_training(r), Catch::Contains("fold 0: the validation split is empty") &&
                                           Catch::Contains("4 training subjects") && Catch::Contains("the 5 parts") &&
                                           Catch::Contains("protocol.val_fraction 0.2"));
  REQUIRE_FALSE(fs::exists(r.out));
}

TEST_CASE("fer --version, fer help COMMAND, and bench in the overview", "[cpu]") {
  const auto [version, version_status] = run_fer("--version");
  REQUIRE(version_status == 0);
  REQUIRE_THAT(version, Catch::StartsWith("fer 0.1.0 (git commit ") && Catch::EndsWith(")\n"));
  REQUIRE_THAT(version, !Catch::Contains("git commit )"));
  const auto [help, help_status] = run_fer("help train");
  REQUIRE(help_status == 0);
  REQUIRE_THAT(help, Catch::StartsWith("usage: fer train") && Catch::Contains("--protocol") && Catch::Contains("--no-subjects"));
  REQUIRE_THAT(run_fer("help").first, Catch::Contains("\n  bench       kernels|step"));
  REQUIRE_THAT(run_fer("help bench").first, Catch::Contains("kernels"));
  REQUIRE(run_fer("help nosuch").second == 2);
}
