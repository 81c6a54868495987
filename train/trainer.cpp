#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "engine/ops.h"
#include "engine/optim/average.h"
#include "engine/optim/optimizer.h"
#include "train/divergence.h"
#include "train/losses.h"
#include "train/samples.h"

namespace fer::train {

namespace fs = std::filesystem;

namespace {

const char* const kStageKeys[] = {"stage0", "stage1", "stage2"};
const char* const kStageNames[] = {"stage 0 (identity)", "stage 1 (FESGAN)", "stage 2 (recognizer)"};
constexpr int kDone = 3;            // position.stage once every stage has finished
constexpr int64_t kEvalBatch = 64;  // rows per evaluation forward
constexpr uint64_t kSampleCodeSeed = 0x5A3D;  // the fixed prior identities of the sample grids

std::unique_ptr<optim::Optimizer> adam(const nn::Module& m, double lr, double beta1, double beta2,
                                       double weight_decay = 0) {
  optim::AdamOptions o;
  o.lr = lr;
  o.beta1 = beta1;
  o.beta2 = beta2;
  o.weight_decay = weight_decay;
  return std::make_unique<optim::Adam>(m.parameters(), o);
}

Tensor random_labels(int64_t n, int64_t classes, RandomStream& rng, Device device) {
  std::vector<float> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<float>(rng.randint(classes)));
  return Tensor::from_vector(labels, {n}, device);
}

void step_on(optim::Optimizer& opt, const Tensor& loss) {
  opt.zero_grad();
  loss.backward();
  opt.step();
}

double recognizer_lr(const JointConfig& c, int64_t epoch) {
  if (c.lr_schedule == "constant") return c.lr;
  constexpr double kPi = 3.14159265358979323846;
  return c.lr * 0.5 * (1 + std::cos(kPi * static_cast<double>(epoch) / static_cast<double>(c.epochs)));
}

bool is_joint(Mode m) { return m == Mode::Joint || m == Mode::JointIntra || m == Mode::JointRdbp; }

}  // namespace

// Where a fold stands: the stage, the epoch and step in it, the running loss sums of the epoch,
// and the model selection so far. Saved in the checkpoint's "extra" field.
struct FoldTrainer::Position {
  int stage = 0;
  int64_t epoch = 0, step = 0;
  std::map<std::string, double> loss_sums;
  int64_t loss_steps = 0;
  double best_val = -1;
  int64_t best_epoch = -1;

  nlohmann::json to_json() const {
    return {{"stage", stage}, {"epoch", epoch}, {"step", step}, {"loss_sums", loss_sums},
            {"loss_steps", loss_steps}, {"best_val", best_val}, {"best_epoch", best_epoch}};
  }
  static Position from_json(const nlohmann::json& j) {
    Position p;
    p.stage = j.at("stage");
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

CenterBuffers::CenterBuffers(int64_t classes, int64_t dim)
    : centers(register_buffer("centers", Tensor::zeros({classes, dim}))),
      seen(register_buffer("seen", Tensor::zeros({classes}))) {}

FoldTrainer::FoldTrainer(const TrainConfig& config, FoldData data, std::string dir, int64_t fold, RunLog& log)
    : config_(config),
      mode_(config.run_mode()),
      device_(parse_device(config.device)),
      data_(std::move(data)),
      context_(weights_context(config.model, data_.class_names)),
      dir_(std::move(dir)),
      fold_(fold),
      log_(log),
      init_rng_(static_cast<uint64_t>(config.seed) * 1000003u + static_cast<uint64_t>(fold)),
      sample_rng_(static_cast<uint64_t>(config.seed) * 7919u + static_cast<uint64_t>(fold) + 1) {
  config_.validate();
  const models::ModelConfig& m = config_.model;
  R_ = std::make_shared<models::Recognizer>(m, init_rng_, static_cast<uint64_t>(config.seed) + 17);
  centers_ = std::make_shared<CenterBuffers>(m.classes, m.feature_dim);
  if (config_.stage2.ema_decay > 0) {
    RandomStream unused(0);  // the average starts as a copy of R; init_rng_ stays as without it
    R_ema_ = std::make_shared<models::Recognizer>(m, unused, 0);
    R_ema_->load_state_dict(R_->state_dict());
  }
  if (uses_generator()) {
    E_ = std::make_shared<models::Encoder>(m, init_rng_);
    G_ = std::make_shared<models::Decoder>(m, init_rng_);
    D_ = std::make_shared<models::ImageDiscriminator>(m, init_rng_);
    Dz_ = std::make_shared<models::LatentDiscriminator>(m, init_rng_);
  }
  if (uses_identity()) Id_ = std::make_shared<models::IdentityNet>(m, data_.train.num_subjects, init_rng_);
  for (nn::Module* module : std::initializer_list<nn::Module*>{R_.get(), R_ema_.get(), centers_.get(), E_.get(),
                                                                G_.get(), D_.get(), Dz_.get(), Id_.get()})
    if (module) module->to(device_);
  if (Id_ && !config_.stage0.checkpoint.empty()) {
    load_checkpoint(config_.stage0.checkpoint, {{{"Id", Id_.get()}}, {}, {}}, context_);
  }
  build_optimizers();
  fs::create_directories(fs::path(dir_) / "checkpoints");
  fs::create_directories(fs::path(dir_) / "samples");
}

nlohmann::json weights_context(const models::ModelConfig& m, const std::vector<std::string>& class_names) {
  return {{"image_size", m.image_size}, {"channels", m.channels}, {"classes", class_names},
          {"latent", m.latent},         {"width", m.width},       {"feature_dim", m.feature_dim}};
}

bool FoldTrainer::uses_judge() const {
  return uses_generator() && config_.judge.enabled && data_.val.size() > 0;
}

bool FoldTrainer::uses_identity() const {
  return uses_generator() && data_.train.num_subjects >= 2 &&
         (config_.stage0.epochs > 0 || !config_.stage0.checkpoint.empty());
}

void FoldTrainer::build_optimizers() {
  const JointConfig& j = config_.stage2;
  const FesganConfig& f = config_.stage1;
  opt_r_ = adam(*R_, j.lr, j.beta1, 0.999, j.weight_decay);
  if (Id_) opt_id_ = adam(*Id_, config_.stage0.lr, 0.9, 0.999);
  if (!uses_generator()) return;
  // E and G are one optimizer in stage 1: their losses are one sum.
  optim::AdamOptions o;
  o.lr = f.lr, o.beta1 = f.beta1, o.beta2 = f.beta2;
  std::vector<Tensor> eg = E_->parameters();
  for (const Tensor& p : G_->parameters()) eg.push_back(p);
  opt_eg_ = std::make_unique<optim::Adam>(eg, o);
  opt_d_ = adam(*D_, f.lr, f.beta1, f.beta2);
  opt_dz_ = adam(*Dz_, f.lr, f.beta1, f.beta2);
  if (is_joint(mode_)) opt_g_ = adam(*G_, j.g_lr, f.beta1, f.beta2);
}

TrainingObjects FoldTrainer::objects() {
  TrainingObjects o;
  auto add_module = [&](const char* name, nn::Module* m) {
    if (m) o.modules[name] = m;
  };
  add_module("R", R_.get());
  add_module("R_ema", R_ema_.get());
  add_module("centers", centers_.get());
  add_module("E", E_.get());
  add_module("G", G_.get());
  add_module("D", D_.get());
  add_module("Dz", Dz_.get());
  add_module("Id", Id_.get());
  const std::pair<const char*, optim::Optimizer*> optimizers[] = {
      {"R", opt_r_.get()}, {"Id", opt_id_.get()}, {"EG", opt_eg_.get()},
      {"D", opt_d_.get()}, {"Dz", opt_dz_.get()}, {"G", opt_g_.get()}};
  for (const auto& [name, opt] : optimizers)
    if (opt) o.optimizers[name] = opt;
  o.random_streams["sample"] = &sample_rng_;
  o.random_streams["dropout"] = &R_->dropout_stream();
  return o;
}

std::string FoldTrainer::checkpoint_path() const {
  return (fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + ".safetensors")).string();
}

std::string FoldTrainer::best_recognizer_path() const {
  return (fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + "_best_R.safetensors")).string();
}

bool FoldTrainer::augments(int stage) const {
  return config_.data.augment && (stage == 2 || config_.data.augment_stages == "all");
}

// The augmentation key comes from sample_rng_, so a resumed run draws the same transforms. A
// stage that does not augment draws no key: which draws happen depends on the config alone.
Batch FoldTrainer::batch_of(const ImageSet& set, const std::vector<int64_t>& rows, int stage) {
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

// ---- the steps -------------------------------------------------------------------------------

LossValues FoldTrainer::identity_step(const Batch& batch) {
  const Tensor loss = cross_entropy(Id_->run(batch.images).logits, batch.subjects);
  step_on(*opt_id_, loss);
  return {{"id_ce", loss.item()}};
}

LossValues FoldTrainer::fesgan_step(const Batch& batch) {
  const FesganConfig& c = config_.stage1;
  const int64_t n = batch.images.size(0), K = config_.model.classes;
  const Tensor& x = batch.images;
  const Tensor& y = batch.labels;
  const Tensor prior = uniform({n, config_.model.latent}, -1, 1, sample_rng_, device_);
  const Tensor y_hat = random_labels(n, K, sample_rng_, device_), y_pf = random_labels(n, K, sample_rng_, device_);

  const Tensor z = E_->forward(x);
  const Tensor x_rec = G_->forward(z, y), x_hat = G_->forward(z, y_hat), x_pf = G_->forward(prior, y_pf);
  const Tensor fakes = concat({x_hat, x_pf}, 0), fake_labels = concat({y_hat, y_pf}, 0);

  // Discriminators first, on detached fakes.
  const models::DiscriminatorOutput d_real = D_->run(x), d_fake = D_->run(fakes.detach());
  const Tensor loss_d = hinge_discriminator(d_real.adversarial, d_fake.adversarial) +
                        c.w_cls * cross_entropy(d_real.classes, y);
  step_on(*opt_d_, loss_d);
  const Tensor loss_dz = logistic(Dz_->forward(prior), 1) + logistic(Dz_->forward(z.detach()), 0);
  step_on(*opt_dz_, loss_dz);

  // E and G through the updated, frozen discriminators.
  D_->set_requires_grad(false);
  Dz_->set_requires_grad(false);
  const models::DiscriminatorOutput g_fake = D_->run(fakes);
  const Tensor adv = hinge_generator(g_fake.adversarial);
  const Tensor cls = cross_entropy(g_fake.classes, fake_labels);
  const Tensor rec = l1_loss(x_rec, x);
  const Tensor latent = logistic(Dz_->forward(z), 1);
  Tensor loss_g = c.w_adv * adv + c.w_cls * cls + c.w_rec * rec + c.w_latent * latent;
  Tensor id;
  if (Id_) {
    Tensor target;
    {
      NoGradGuard no_grad;
      target = Id_->forward(x);
    }
    id = l1_loss(Id_->forward(x_rec), target);
    loss_g = loss_g + c.w_id * id;
  }
  D_->set_requires_grad(true);
  Dz_->set_requires_grad(true);
  step_on(*opt_eg_, loss_g);

  LossValues out = {{"g_total", loss_g.item()}, {"d", loss_d.item()}, {"dz", loss_dz.item()}, {"g_adv", adv.item()},
                    {"g_cls", cls.item()}, {"rec", rec.item()}, {"latent", latent.item()}};
  if (id.defined()) out.push_back({"id", id.item()});
  return out;
}

JointTerms FoldTrainer::joint_terms(const Batch& batch) {
  const JointConfig& c = config_.stage2;
  JointTerms t;
  const models::RecognizerOutput real = R_->run(batch.images);
  t.ce_real = cross_entropy(real.logits, batch.labels);
  t.total = t.ce_real;
  if (!uses_generator()) return t;

  const int64_t m = c.synth_batch;
  const Tensor prior = uniform({m, config_.model.latent}, -1, 1, sample_rng_, device_);
  const Tensor y_s = random_labels(m, config_.model.classes, sample_rng_, device_);
  if (is_joint(mode_)) {
    t.synthetic = G_->forward(prior, y_s);
  } else {  // synth: the pre-trained G is frozen
    NoGradGuard no_grad;
    G_->eval();
    t.synthetic = G_->forward(prior, y_s);
    G_->train();
  }
  const models::RecognizerOutput synth = R_->run(t.synthetic);
  t.ce_synth = cross_entropy(synth.logits, y_s);
  t.total = t.total + c.w_synth * t.ce_synth;
  if (mode_ == Mode::JointIntra || mode_ == Mode::JointRdbp) {
    IntraClassOptions o;
    o.mode = mode_ == Mode::JointRdbp ? RdbpMode::Rdbp : RdbpMode::Naive;
    o.momentum = c.intra_momentum;
    t.intra = intra_class_loss(real.feature, batch.labels, synth.feature, y_s, centers_->centers, centers_->seen, o);
    t.total = t.total + c.w_intra * t.intra;
  }
  if (is_joint(mode_)) {
    D_->set_requires_grad(false);
    const models::DiscriminatorOutput d = D_->run(t.synthetic);
    D_->set_requires_grad(true);
    t.g_adv = hinge_generator(d.adversarial);
    t.g_cls = cross_entropy(d.classes, y_s);
    t.total = t.total + c.g_w_adv * t.g_adv + c.g_w_cls * t.g_cls;
  }
  return t;
}

LossValues FoldTrainer::joint_step(const Batch& batch) {
  const JointTerms t = joint_terms(batch);
  opt_r_->zero_grad();
  if (opt_g_) opt_g_->zero_grad();
  t.total.backward();
  opt_r_->step();
  LossValues out = {{"total", t.total.item()}, {"ce_real", t.ce_real.item()}};
  if (t.ce_synth.defined()) out.push_back({"ce_synth", t.ce_synth.item()});
  if (t.intra.defined()) out.push_back({"intra", t.intra.item()});
  if (!is_joint(mode_)) return out;
  opt_g_->step();
  // D_img keeps training as in stage 1, against the faces G produced for this step.
  const models::DiscriminatorOutput d_real = D_->run(batch.images), d_fake = D_->run(t.synthetic.detach());
  const Tensor loss_d = hinge_discriminator(d_real.adversarial, d_fake.adversarial) +
                        config_.stage1.w_cls * cross_entropy(d_real.classes, batch.labels);
  step_on(*opt_d_, loss_d);
  out.push_back({"g_adv", t.g_adv.item()});
  out.push_back({"g_cls", t.g_cls.item()});
  out.push_back({"d", loss_d.item()});
  return out;
}

LossValues FoldTrainer::step(int stage, const Batch& batch) {
  if (stage == 0) return identity_step(batch);
  if (stage == 1) return fesgan_step(batch);
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
  return evaluate_recognizer(evaluated_recognizer(), set, config_.model.classes, device_);
}

// Rows of [x, x_rec, x_hat for each expression] for a few validation faces, then rows of
// [blank, blank, x_pf for each expression] for fixed prior identities.
void FoldTrainer::write_samples(const std::string& name) {
  const int64_t K = config_.model.classes;
  const ImageSet& source = data_.val.size() > 0 ? data_.val : data_.train;
  const int64_t ids = std::min<int64_t>(config_.sample_identities, source.size());
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < ids; ++i) rows.push_back(i * source.size() / ids);
  NoGradGuard no_grad;
  E_->eval();
  G_->eval();
  const Batch real = make_batch(source, rows, device_);
  const Tensor codes = E_->forward(real.images);
  const std::vector<data::Image> x = to_images(real.images), rec = to_images(G_->forward(codes, real.labels));
  const std::vector<data::Image> hat = to_images(expression_sweep(*G_, codes, K));
  const Tensor prior = prior_codes(ids, config_.model.latent, kSampleCodeSeed, device_);
  const std::vector<data::Image> pf = to_images(expression_sweep(*G_, prior, K));
  E_->train();
  G_->train();
  const data::Image blank(x[0].width, x[0].height, x[0].channels);
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
  FER_CHECK(judge_) << "score_generator: no judge (prepare_judge has not run)";
  E_->eval();
  G_->eval();
  FaceSource source;
  source.encode = [&](const Tensor& x) { return E_->forward(x); };
  source.decode = [&](const Tensor& codes, const Tensor& labels) { return G_->forward(codes, labels); };
  source.latent = config_.model.latent;
  SynthesisProbe probe;
  probe.real = &data_.val;
  probe.faces = config_.judge.faces;
  probe.classes = config_.model.classes;
  probe.device = device_;
  const SynthesisScores scores = score_synthesis(*judge_, Id_.get(), source, probe);
  E_->train();
  G_->train();
  return scores;
}

bool FoldTrainer::select_if_best(double val_accuracy, int64_t epoch, Position& at) {
  if (val_accuracy <= at.best_val) return false;  // ties keep the earlier epoch
  at.best_val = val_accuracy;
  at.best_epoch = epoch;
  save_checkpoint(best_recognizer_path(), {{{"R", &evaluated_recognizer()}}, {}, {}}, {0, epoch, context_, {}});
  return true;
}

nlohmann::json FoldTrainer::end_epoch(int stage, int64_t epoch, Position& at) {
  nlohmann::json record = {{"fold", fold_}, {"stage", kStageKeys[stage]}, {"epoch", epoch}};
  for (const auto& [name, sum] : at.loss_sums)
    record["loss"][name] = sum / static_cast<double>(std::max<int64_t>(1, at.loss_steps));
  if (stage == 2) {
    record["train_accuracy"] = evaluate(data_.train).accuracy();
    const double val = evaluate(data_.val).accuracy();
    record["val_accuracy"] = val;
    record["new_best"] = select_if_best(val, epoch, at);
  }
  if (stage >= 1 && uses_generator()) {
    const std::string name = "fold" + std::to_string(fold_) + "_" + kStageKeys[stage] + "_epoch" + std::to_string(epoch);
    write_samples(name);
    record["samples"] = "samples/" + name + ".png";
    if (judge_) record["synthesis"] = score_generator().to_json();
  }
  return record;
}

// ---- the loop --------------------------------------------------------------------------------

void FoldTrainer::save(const Position& at) {
  TrainingProgress progress;
  progress.epoch = at.epoch;
  progress.step = at.step;
  progress.context = context_;
  progress.extra = at.to_json();
  save_checkpoint(checkpoint_path(), objects(), progress);
}

void FoldTrainer::stop_if_diverged(int stage, const std::string& when, const std::string& why) const {
  if (why.empty()) return;
  std::ostringstream rates;
  rates << kStageKeys[stage] << ".lr = " << (stage == 0   ? config_.stage0.lr
                                             : stage == 1 ? config_.stage1.lr
                                                          : config_.stage2.lr);
  if (stage == 2 && is_joint(mode_)) rates << ", stage2.g_lr = " << config_.stage2.g_lr;
  FER_THROW() << kStageNames[stage] << ", fold " << fold_ << ", " << when << ": " << why << ": training diverged (learning rate " << rates.str()
              << "); training stopped, the last good checkpoint is " << checkpoint_path();
}

void FoldTrainer::run_stage(int stage, const ImageSet& set, int64_t epochs, int64_t batch_size, Position& at) {
  log_.start_phase();
  if (stage == 0) {
    Id_->train();
    Id_->set_requires_grad(true);
  }
  const std::string where_prefix = "[fold " + std::to_string(fold_) + "] " + kStageNames[stage] + " epoch ";
  DivergenceWatch watch;
  int64_t images = 0, steps_done = 0;
  const int64_t steps_per_epoch = static_cast<int64_t>(
      epoch_batches(set.size(), batch_size, static_cast<uint64_t>(config_.seed), kStageKeys[stage], 0).size());
  FER_CHECK(steps_per_epoch > 0) << kStageNames[stage] << ": " << set.size()
                                 << " training images are too few for one batch of 2";
  for (; at.epoch < epochs; at.next_epoch()) {
    if (stage == 2) opt_r_->set_lr(recognizer_lr(config_.stage2, at.epoch));
    const auto batches = epoch_batches(set.size(), batch_size, static_cast<uint64_t>(config_.seed), kStageKeys[stage], at.epoch);
    const std::string where = where_prefix + std::to_string(at.epoch + 1) + "/" + std::to_string(epochs);
    for (; at.step < static_cast<int64_t>(batches.size()); ++at.step) {
      if (interrupt_requested() || steps_run_++ == stop_after_) {
        save(at);
        throw Interrupted{checkpoint_path()};
      }
      const LossValues losses = step(stage, batch_of(set, batches[static_cast<size_t>(at.step)], stage));
      if (stage == 2 && R_ema_) {
        const int64_t update = at.epoch * steps_per_epoch + at.step;
        optim::update_average(*R_ema_, *R_, optim::warmed_up_decay(config_.stage2.ema_decay, update));
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
    for (const auto& [name, module] : objects().modules)
      stop_if_diverged(stage, "end of epoch " + std::to_string(at.epoch + 1), DivergenceWatch::check_weights(name, *module));
    nlohmann::json record = end_epoch(stage, at.epoch, at);
    log_.write(record);
    log_.message(where + ": " + epoch_summary(record));
    Position next = at;
    next.next_epoch();
    save(next);
  }
  if (Id_) {  // frozen after stage 0 (and when loaded)
    Id_->eval();
    Id_->set_requires_grad(false);
  }
}

// The epochs at or after `at` run again: their records go.
void FoldTrainer::drop_records_after(const Position& at) {
  log_.drop_records([&](const nlohmann::json& record) {
    if (record.value("fold", int64_t{-1}) != fold_) return false;
    const auto stage = std::find(std::begin(kStageKeys), std::end(kStageKeys), record.value("stage", std::string()));
    const int index = static_cast<int>(stage - std::begin(kStageKeys));
    return index > at.stage || (index == at.stage && record.value("epoch", int64_t{0}) >= at.epoch);
  });
}

FoldResult FoldTrainer::run(bool resume) {
  Position at;
  if (resume) {
    const bool saved = fs::exists(checkpoint_path());
    if (saved) at = Position::from_json(load_checkpoint(checkpoint_path(), objects(), context_).extra);
    drop_records_after(at);
    if (saved)
      log_.message("[fold " + std::to_string(fold_) + "] resuming from " + checkpoint_path() + " at " +
                   (at.stage < kDone ? kStageNames[at.stage] : "the end") + ", epoch " + std::to_string(at.epoch + 1) +
                   ", step " + std::to_string(at.step + 1));
  }
  if (Id_ && !config_.stage0.checkpoint.empty()) at.stage = std::max(at.stage, 1);
  if (Id_) {
    Id_->eval();
    Id_->set_requires_grad(false);
  }
  if (uses_judge()) prepare_judge();
  const bool needed[] = {Id_ && config_.stage0.checkpoint.empty(), uses_generator(), true};
  const int64_t epochs[] = {config_.stage0.epochs, config_.stage1.epochs, config_.stage2.epochs};
  const int64_t batch[] = {config_.stage0.batch_size, config_.stage1.batch_size, config_.stage2.batch_size};
  for (; at.stage < kDone; ++at.stage, at.epoch = 0, at.step = 0, at.loss_sums.clear(), at.loss_steps = 0) {
    if (needed[at.stage]) run_stage(at.stage, data_.train, epochs[at.stage], batch[at.stage], at);
  }
  save(at);
  if (uses_generator()) {  // what `fer generate` loads
    const fs::path path = fs::path(dir_) / "checkpoints" / ("fold" + std::to_string(fold_) + "_EG.safetensors");
    save_checkpoint(path.string(), {{{"E", E_.get()}, {"G", G_.get()}}, {}, {}}, {0, 0, context_, {}});
  }

  FoldResult result;
  result.fold = fold_;
  result.best_val_accuracy = at.best_val;
  result.best_epoch = at.best_epoch;
  if (fs::exists(best_recognizer_path()))
    load_checkpoint(best_recognizer_path(), {{{"R", &evaluated_recognizer()}}, {}, {}}, context_);
  result.test = evaluate(data_.test);
  return result;
}

}  // namespace fer::train
