#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/ops.h"
#include "engine/optim/average.h"
#include "engine/optim/optimizer.h"
#include "train/divergence.h"
#include "train/phases.h"
#include "train/samples.h"

namespace fer::train {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kEvalBatch = 64;  // rows per evaluation forward
constexpr uint64_t kSampleCodeSeed = 0x5A3D;  // the fixed prior identities of the sample grids

double recognizer_lr(const JointConfig& c, int64_t epoch) {
  if (c.lr_schedule == "constant") return c.lr;
  constexpr double kPi = 3.14159265358979323846;
  return c.lr * 0.5 * (1 + std::cos(kPi * static_cast<double>(epoch) / static_cast<double>(c.epochs)));
}

TrainConfig validated(const TrainConfig& config) {
  config.validate();
  return config;
}

}  // namespace

// Where a fold stands: the stage, the epoch and step in it, the running loss sums of the epoch,
// and the model selection so far. Saved in the checkpoint's "extra" field.
struct FoldTrainer::Position {
  Stage stage = Stage::Identity;
  int64_t epoch = 0, step = 0;
  std::map<std::string, double> loss_sums;
  int64_t loss_steps = 0;
  double best_val = -1;
  int64_t best_epoch = -1;

  nlohmann::json to_json() const {
    return {{"stage", static_cast<int>(stage)}, {"epoch", epoch}, {"step", step}, {"loss_sums", loss_sums},
            {"loss_steps", loss_steps}, {"best_val", best_val}, {"best_epoch", best_epoch}};
  }
  static Position from_json(const nlohmann::json& j) {
    Position p;
    p.stage = static_cast<Stage>(j.at("stage").get<int>());
    p.epoch = j.at("epoch");
    p.step = j.at("step");
    p.loss_sums = j.at("loss_sums").get<std::map<std::string, double>>();
    p.loss_steps = j.at("loss_steps");
    p.best_val = j.at("best_val");
    p.best_epoch = j.at("best_epoch");
    return p;
  }
  void next_epoch() {
    ++epoch;
    step = 0;
    loss_sums.clear();
    loss_steps = 0;
  }
};

FoldTrainer::FoldTrainer(const TrainConfig& config, FoldData data, std::string dir, int64_t fold, RunLog& log)
    : config_(validated(config)),
      mode_(config_.run_mode()),
      device_(parse_device(config_.device)),
      data_(std::move(data)),
      context_(weights_context(config_.model, data_.class_names)),
      dir_(std::move(dir)),
      fold_(fold),
      log_(log),
      init_rng_(static_cast<uint64_t>(config_.seed) * 1000003u + static_cast<uint64_t>(fold)),
      sample_rng_(static_cast<uint64_t>(config_.seed) * 7919u + static_cast<uint64_t>(fold) + 1),
      models_(config_, data_.train.num_subjects, init_rng_, device_) {
  const phases::Phase phase("checkpoints");
  if (models_.Id && !config_.stage0.checkpoint.empty())
    load_checkpoint(config_.stage0.checkpoint, {{{"Id", models_.Id.get()}}, {}, {}}, context_);
  fs::create_directories(fs::path(dir_) / "checkpoints");
  fs::create_directories(fs::path(dir_) / "samples");
}

bool FoldTrainer::uses_judge() const {
  return uses_generator() && config_.judge.enabled && data_.val.size() > 0;
}

TrainingObjects FoldTrainer::objects() {
  TrainingObjects o = models_.objects();
  o.random_streams["sample"] = &sample_rng_;
  return o;
}

std::string FoldTrainer::checkpoint_path() const {
  return (fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + ".safetensors")).string();
}

std::string FoldTrainer::best_recognizer_path() const {
  return (fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + "_best_R.safetensors")).string();
}

bool FoldTrainer::augments(Stage stage) const {
  return config_.data.augment && (stage == Stage::Recognizer || config_.data.augment_stages == "all");
}

// The augmentation key comes from sample_rng_, so a resumed run draws the same transforms. A
// stage that does not augment draws no key: which draws happen depends on the config alone.
Batch FoldTrainer::batch_of(const ImageSet& set, const std::vector<int64_t>& rows, Stage stage) {
  const phases::Phase phase("batches");
  if (!augments(stage)) return make_batch(set, rows, device_);
  const DataConfig& d = config_.data;
  BatchAugmentation a;
  a.options.pad = static_cast<int>(std::lround(d.augment_shift * static_cast<double>(config_.model.image_size)));
  a.options.scale = d.augment_scale;
  a.options.rotate_degrees = d.augment_rotate;
  a.options.brightness = d.augment_brightness;
  a.options.contrast = d.augment_contrast;
  a.seed = sample_rng_.seed();
  a.counter = sample_rng_.take(1);
  return make_batch(set, rows, device_, &a);
}

LossValues FoldTrainer::step(Stage stage, const Batch& batch) {
  const phases::Phase phase("forward");
  if (stage == Stage::Identity) return identity_step(batch);
  if (stage == Stage::Fesgan) return fesgan_step(batch);
  return joint_step(batch);
}

// ---- evaluation, samples, model selection ----------------------------------------------------

Confusion evaluate_recognizer(models::Recognizer& R, const ImageSet& set, int64_t classes, Device device) {
  Confusion confusion(classes);
  NoGradGuard no_grad;
  R.eval();
  for (int64_t start = 0; start < set.size(); start += kEvalBatch) {
    std::vector<int64_t> rows;
    for (int64_t r = start; r < std::min(set.size(), start + kEvalBatch); ++r) rows.push_back(r);
    const std::vector<float> logits = R.forward(make_batch(set, rows, device).images).to_vector();
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto row = logits.begin() + static_cast<int64_t>(i) * classes;
      confusion.add(static_cast<int64_t>(set.labels[static_cast<size_t>(rows[i])]),
                    std::max_element(row, row + classes) - row);
    }
  }
  R.train();
  return confusion;
}

Confusion FoldTrainer::evaluate(const ImageSet& set) {
  const phases::Phase phase("evaluation");
  return evaluate_recognizer(evaluated_recognizer(), set, config_.model.classes, device_);
}

// Rows of [x, x_rec, x_hat for each expression] for a few validation faces, then rows of
// [blank, blank, x_pf for each expression] for fixed prior identities.
void FoldTrainer::write_samples(const std::string& name) {
  const phases::Phase phase("samples");
  const int64_t K = config_.model.classes;
  const ImageSet& source = data_.val.size() > 0 ? data_.val : data_.train;
  const int64_t ids = std::min<int64_t>(config_.sample_identities, source.size());
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < ids; ++i) rows.push_back(i * source.size() / ids);
  NoGradGuard no_grad;
  models_.E->eval();
  models_.G->eval();
  const Batch real = make_batch(source, rows, device_);
  const Tensor codes = models_.E->forward(real.images);
  const std::vector<data::Image> x = to_images(real.images), rec = to_images(models_.G->forward(codes, real.labels));
  const std::vector<data::Image> hat = to_images(expression_sweep(*models_.G, codes, K));
  const Tensor prior = prior_codes(ids, config_.model.latent, kSampleCodeSeed, device_);
  const std::vector<data::Image> pf = to_images(expression_sweep(*models_.G, prior, K));
  models_.E->train();
  models_.G->train();
  data::Image blank(x[0].width, x[0].height, x[0].channels);
  std::fill(blank.pixels.begin(), blank.pixels.end(), uint8_t{255});  // the grid's background: reads as empty
  std::vector<data::Image> grid;
  for (int64_t r = 0; r < ids; ++r) {
    grid.push_back(x[static_cast<size_t>(r)]);
    grid.push_back(rec[static_cast<size_t>(r)]);
    grid.insert(grid.end(), hat.begin() + r * K, hat.begin() + (r + 1) * K);
  }
  for (int64_t r = 0; r < ids; ++r) {
    grid.push_back(blank);
    grid.push_back(blank);
    grid.insert(grid.end(), pf.begin() + r * K, pf.begin() + (r + 1) * K);
  }
  data::write_png((fs::path(dir_) / "samples" / (name + ".png")).string(),
                  data::tile_images(grid, static_cast<int>(K + 2)));
}

// The judge: the given checkpoint, or a baseline run of this fold's real data in DIR/judge/
// (resumed like any run when it was interrupted).
void FoldTrainer::prepare_judge() {
  const phases::Phase phase("judge");  // its training's steps count as their own phases
  std::string path = config_.judge.checkpoint;
  if (path.empty()) {
    TrainConfig c = config_;
    c.mode = mode_name(Mode::Baseline);
    c.judge.enabled = false;
    const fs::path dir = fs::path(dir_) / "judge";
    fs::create_directories(dir);
    log_.message("[fold " + std::to_string(fold_) + "] judge: training a recognizer of the real training images into " +
                 dir.string());
    RunLog quiet((dir / "metrics.jsonl").string(), true);
    FoldTrainer trainer(c, FoldData{data_.train, data_.val, ImageSet{}, data_.class_names}, dir.string(), fold_, quiet);
    trainer.run(true);
    path = trainer.best_recognizer_path();
  }
  RandomStream unused(0);  // the weights come from the checkpoint; init_rng_ stays untouched
  judge_ = std::make_shared<models::Recognizer>(config_.model, unused, 0);
  load_checkpoint(path, {{{"R", judge_.get()}}, {}, {}}, context_);
  judge_->to(device_);
  judge_->eval();
  judge_->set_requires_grad(false);
}

SynthesisScores FoldTrainer::score_generator() {
  const phases::Phase phase("judge");
  FER_CHECK(judge_) << "score_generator: no judge (prepare_judge has not run)";
  models_.E->eval();
  models_.G->eval();
  FaceSource source;
  source.encode = [&](const Tensor& x) { return models_.E->forward(x); };
  source.decode = [&](const Tensor& codes, const Tensor& labels) { return models_.G->forward(codes, labels); };
  source.latent = config_.model.latent;
  SynthesisProbe probe;
  probe.real = &data_.val;
  probe.faces = config_.judge.faces;
  probe.classes = config_.model.classes;
  probe.device = device_;
  const SynthesisScores scores = score_synthesis(*judge_, models_.Id.get(), source, probe);
  models_.E->train();
  models_.G->train();
  return scores;
}

bool FoldTrainer::select_if_best(double val_accuracy, int64_t epoch, Position& at) {
  if (val_accuracy <= at.best_val) return false;  // ties keep the earlier epoch
  at.best_val = val_accuracy;
  at.best_epoch = epoch;
  const phases::Phase phase("checkpoints");
  save_checkpoint(best_recognizer_path(), {{{"R", &evaluated_recognizer()}}, {}, {}}, {0, epoch, context_, {}});
  return true;
}

nlohmann::json FoldTrainer::end_epoch(Stage stage, int64_t epoch, Position& at) {
  const char* key = stage_key(stage);
  nlohmann::json record = {{"fold", fold_}, {"stage", key}, {"epoch", epoch}};
  for (const auto& [name, sum] : at.loss_sums)
    record["loss"][name] = sum / static_cast<double>(std::max<int64_t>(1, at.loss_steps));
  if (stage == Stage::Recognizer) {
    record["train_accuracy"] = evaluate(data_.train).accuracy();
    const double val = evaluate(data_.val).accuracy();
    record["val_accuracy"] = val;
    record["new_best"] = select_if_best(val, epoch, at);
  }
  if (stage != Stage::Identity && uses_generator()) {
    const std::string name = "fold" + std::to_string(fold_) + "_" + key + "_epoch" + std::to_string(epoch);
    write_samples(name);
    record["samples"] = "samples/" + name + ".png";
    if (judge_) record["synthesis"] = score_generator().to_json();
  }
  return record;
}

// ---- the loop --------------------------------------------------------------------------------

void FoldTrainer::save(const Position& at) {
  const phases::Phase phase("checkpoints");
  TrainingProgress progress;
  progress.epoch = at.epoch;
  progress.step = at.step;
  progress.context = context_;
  progress.extra = at.to_json();
  save_checkpoint(checkpoint_path(), objects(), progress);
}

void FoldTrainer::stop_if_diverged(Stage stage, const std::string& when, const std::string& why) const {
  if (why.empty()) return;
  const StageSettings settings = stage_settings(config_, stage);
  FER_THROW() << settings.name << ", fold " << fold_ << ", " << when << ": " << why
              << ": training diverged (learning rate " << settings.learning_rates
              << "); training stopped, the last good checkpoint is " << checkpoint_path();
}

void FoldTrainer::run_stage(Stage stage, const ImageSet& set, Position& at) {
  log_.start_phase();
  if (stage == Stage::Identity) {
    models_.Id->train();
    models_.Id->set_requires_grad(true);
  }
  const StageSettings settings = stage_settings(config_, stage);
  const int64_t epochs = settings.epochs, batch_size = settings.batch_size;
  const std::string where_prefix = "[fold " + std::to_string(fold_) + "] " + settings.name + " epoch ";
  DivergenceWatch watch;
  int64_t images = 0, steps_done = 0;
  const int64_t steps_per_epoch = static_cast<int64_t>(
      epoch_batches(set.size(), batch_size, static_cast<uint64_t>(config_.seed), settings.key, 0).size());
  FER_CHECK(steps_per_epoch > 0) << settings.name << ": " << set.size()
                                 << " training images are too few for one batch of 2";
  for (; at.epoch < epochs; at.next_epoch()) {
    if (stage == Stage::Recognizer) models_.opt_R->set_lr(recognizer_lr(config_.stage2, at.epoch));
    const auto batches = epoch_batches(set.size(), batch_size, static_cast<uint64_t>(config_.seed), settings.key, at.epoch);
    const std::string where = where_prefix + std::to_string(at.epoch + 1) + "/" + std::to_string(epochs);
    for (; at.step < static_cast<int64_t>(batches.size()); ++at.step) {
      if (interrupt_requested() || steps_run_++ == stop_after_) {
        save(at);
        throw Interrupted{checkpoint_path()};
      }
      const Batch batch = batch_of(set, batches[static_cast<size_t>(at.step)], stage);
      const LossValues losses = step(stage, batch);
      if (stage == Stage::Recognizer && models_.R_ema) {
        const phases::Phase phase("optimizer");
        const int64_t update = at.epoch * steps_per_epoch + at.step;
        optim::update_average(*models_.R_ema, *models_.R, optim::warmed_up_decay(config_.stage2.ema_decay, update));
      }
      for (const auto& [name, value] : losses)
        stop_if_diverged(stage, "epoch " + std::to_string(at.epoch + 1) + ", step " + std::to_string(at.step + 1),
                         watch.check_loss(name, value));
      for (const auto& [name, value] : losses) at.loss_sums[name] += value;
      ++at.loss_steps;
      images += batch_size;
      ++steps_done;
      const int64_t total = (epochs - at.epoch) * steps_per_epoch - at.step - 1 + steps_done;
      log_.progress(where, steps_done, total, images, losses, false);
    }
    {
      const phases::Phase phase("divergence checks");
      for (const auto& [name, module] : objects().modules)
        stop_if_diverged(stage, "end of epoch " + std::to_string(at.epoch + 1),
                         DivergenceWatch::check_weights(name, *module));
    }
    nlohmann::json record = end_epoch(stage, at.epoch, at);
    log_.write(record);
    log_.message(where + ": " + epoch_summary(record));
    Position next = at;
    next.next_epoch();
    save(next);
  }
  if (models_.Id) {  // frozen after stage 0 (and when loaded)
    models_.Id->eval();
    models_.Id->set_requires_grad(false);
  }
}

// The epochs at or after `at` run again: their records go.
void FoldTrainer::drop_records_after(const Position& at) {
  log_.drop_records([&](const nlohmann::json& record) {
    if (record.value("fold", int64_t{-1}) != fold_) return false;
    const Stage stage = stage_of_key(record.value("stage", std::string()));
    return stage > at.stage || (stage == at.stage && record.value("epoch", int64_t{0}) >= at.epoch);
  });
}

FoldResult FoldTrainer::run(bool resume) {
  Position at;
  if (resume) {
    const bool saved = fs::exists(checkpoint_path());
    if (saved) {
      const phases::Phase phase("checkpoints");
      at = Position::from_json(load_checkpoint(checkpoint_path(), objects(), context_).extra);
    }
    drop_records_after(at);
    if (saved)
      log_.message("[fold " + std::to_string(fold_) + "] resuming from " + checkpoint_path() + " at " +
                   (at.stage != Stage::Done ? stage_settings(config_, at.stage).name : "the end") + ", epoch " + std::to_string(at.epoch + 1) +
                   ", step " + std::to_string(at.step + 1));
  }
  const bool loaded_identity = models_.Id && !config_.stage0.checkpoint.empty();
  if (loaded_identity) at.stage = std::max(at.stage, Stage::Fesgan);
  if (models_.Id) {
    models_.Id->eval();
    models_.Id->set_requires_grad(false);
  }
  if (uses_judge()) prepare_judge();
  auto needed = [&](Stage stage) {
    if (stage == Stage::Identity) return models_.Id && !loaded_identity;
    return stage == Stage::Recognizer || uses_generator();
  };
  for (; at.stage != Stage::Done; at.stage = next_stage(at.stage), at.epoch = 0, at.step = 0, at.loss_sums.clear(),
                                  at.loss_steps = 0) {
    if (needed(at.stage)) run_stage(at.stage, data_.train, at);
  }
  save(at);
  if (uses_generator()) {  // what `fer generate` loads
    const phases::Phase phase("checkpoints");
    const fs::path path = fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + "_EG.safetensors");
    save_checkpoint(path.string(), {{{"E", models_.E.get()}, {"G", models_.G.get()}}, {}, {}}, {0, 0, context_, {}});
  }

  FoldResult result;
  result.fold = fold_;
  result.best_val_accuracy = at.best_val;
  result.best_epoch = at.best_epoch;
  if (fs::exists(best_recognizer_path())) {
    const phases::Phase phase("checkpoints");
    load_checkpoint(best_recognizer_path(), {{{"R", &evaluated_recognizer()}}, {}, {}}, context_);
  }
  result.test = evaluate(data_.test);
  return result;
}

}  // namespace fer::train
