// One fold of the method: stage 0 (identity network), stage 1 (FESGAN), stage 2 (the recognizer,
// jointly with the generator in the joint modes), model selection on the inner validation split,
// and the test-fold evaluation (docs/design.md "The method").
//
// Which stages run depends on the mode: baseline runs stage 2 on real data only; synth adds
// synthetic faces of the frozen pre-trained G; joint, joint-intra and joint-rdbp train G with R.
// Stage 0 runs when stage 1 does, the data has at least two training subjects and
// stage0.epochs > 0 (or stage0.checkpoint names a trained Id); otherwise the identity loss is off.
//
// With stage2.ema_decay > 0, an exponential moving average of R's weights, updated after every R
// step, is the recognizer that validation selects and the test fold measures (R keeps training).
// Checkpoints (DIR/checkpoints/fold<i>.safetensors) hold every module, optimizer, generator and
// the running class centers, with the position (stage, epoch, step in epoch): written atomically
// at the end of each epoch and on Ctrl-C, so --resume continues exactly where the run stopped.
// The judge (train/synthesis.h) is loaded from judge.checkpoint or trained first, as a baseline
// fold run of its own in DIR/judge/; it draws none of this run's random numbers, so a run's
// result does not depend on whether it is judged.
// Randomness: `init` seeds the weights; `sample` draws priors, labels and augmentation keys and is
// saved; the batch order is a pure function of (seed, stage, epoch).
#pragma once
#include <memory>
#include <string>

#include "engine/checkpoint.h"
#include "engine/optim/optimizer.h"
#include "engine/ops/rdbp.h"
#include "models/fesgan.h"
#include "models/recognizer.h"
#include "train/config.h"
#include "train/imageset.h"
#include "train/metrics.h"
#include "train/runlog.h"
#include "train/synthesis.h"

namespace fer::train {

struct FoldData {
  ImageSet train, val, test;
  std::vector<std::string> class_names;
};

// The running class centers of the intra-class loss, as buffers so checkpoints carry them.
class CenterBuffers : public nn::Module {
 public:
  CenterBuffers(int64_t classes, int64_t dim);
  std::string type_name() const override { return "CenterBuffers"; }
  Tensor& centers;
  Tensor& seen;
};

// The loss terms of one stage-2 step, unweighted, before any backward (undefined when a term is
// off in the mode). total is what the step differentiates.
struct JointTerms {
  Tensor ce_real, ce_synth, intra, g_adv, g_cls;
  Tensor total;
  Tensor synthetic;  // x_s (undefined in baseline)
};

struct FoldResult {
  int64_t fold = 0;
  Confusion test{0};
  double best_val_accuracy = 0;
  int64_t best_epoch = -1;
};

// The confusion matrix of R (put in eval mode, then back in train mode) over every image of set.
Confusion evaluate_recognizer(models::Recognizer& R, const ImageSet& set, int64_t classes, Device device);

// What a fold's checkpoints are made for, saved in each and checked by every load (a 16-px
// recognizer has the shapes of a 32-px one): image size, channels, the class names in order, and
// the model sizes.
nlohmann::json weights_context(const models::ModelConfig& model, const std::vector<std::string>& class_names);

class FoldTrainer {
 public:
  // dir: the RUNDIR (checkpoints/, samples/ are created in it).
  FoldTrainer(const TrainConfig& config, FoldData data, std::string dir, int64_t fold, RunLog& log);

  // Runs every stage the mode needs (continuing from the checkpoint when resume is set) and
  // evaluates the selected recognizer on the test fold.
  FoldResult run(bool resume);
  // Stops like a Ctrl-C (checkpoint, then Interrupted) before the step that would be the
  // `steps`-th of this process; -1: never. For tests of --resume.
  void stop_after(int64_t steps) { stop_after_ = steps; }

  // One step of each stage on a batch (exposed for the tests). Returns the logged losses.
  LossValues identity_step(const Batch& batch);
  LossValues fesgan_step(const Batch& batch);
  LossValues joint_step(const Batch& batch);
  JointTerms joint_terms(const Batch& batch);
  // Rows of set as the batch of a step of `stage`: augmented when data.augment is on and
  // data.augment_stages includes the stage (augments(stage)).
  Batch batch_of(const ImageSet& set, const std::vector<int64_t>& rows, int stage = 2);
  bool augments(int stage) const;

  // The recognizer that is evaluated, selected and tested: the average of R's weights when
  // stage2.ema_decay > 0, else R.
  models::Recognizer& evaluated_recognizer() { return R_ema_ ? *R_ema_ : *R_; }
  Confusion evaluate(const ImageSet& set);
  bool uses_generator() const { return mode_ != Mode::Baseline; }
  bool uses_identity() const;
  // The judge scores G's faces (train/synthesis.h): generator modes with judge.enabled and a
  // non-empty validation split.
  bool uses_judge() const;
  // G's faces now, as the judge and Id see them (E and G in eval mode for the measurement).
  SynthesisScores score_generator();

  models::Encoder& encoder() { return *E_; }
  models::Decoder& generator() { return *G_; }
  models::Recognizer& recognizer() { return *R_; }
  TrainingObjects objects();
  std::string checkpoint_path() const;
  std::string best_recognizer_path() const;

 private:
  struct Position;
  void build_optimizers();
  void run_stage(int stage, const ImageSet& set, int64_t epochs, int64_t batch_size, Position& at);
  LossValues step(int stage, const Batch& batch);
  nlohmann::json end_epoch(int stage, int64_t epoch, Position& at);
  void save(const Position& at);
  void drop_records_after(const Position& at);
  // Throws naming the stage, `when` ("epoch 3, step 7"), `why` and the stage's learning rates,
  // unless why is empty.
  void stop_if_diverged(int stage, const std::string& when, const std::string& why) const;
  void write_samples(const std::string& name);
  // Keeps R as the selected recognizer when val_accuracy is a new best; returns whether it was.
  bool select_if_best(double val_accuracy, int64_t epoch, Position& at);
  void prepare_judge();

  TrainConfig config_;
  Mode mode_;
  Device device_;
  FoldData data_;
  nlohmann::json context_;  // weights_context of this run
  std::string dir_;
  int64_t fold_;
  RunLog& log_;
  RandomStream init_rng_, sample_rng_;
  std::shared_ptr<models::Encoder> E_;
  std::shared_ptr<models::Decoder> G_;
  std::shared_ptr<models::ImageDiscriminator> D_;
  std::shared_ptr<models::LatentDiscriminator> Dz_;
  std::shared_ptr<models::IdentityNet> Id_;
  std::shared_ptr<models::Recognizer> R_;
  std::shared_ptr<models::Recognizer> R_ema_;  // the average of R's weights (stage2.ema_decay > 0)
  std::shared_ptr<models::Recognizer> judge_;  // frozen; set by prepare_judge()
  std::shared_ptr<CenterBuffers> centers_;
  int64_t stop_after_ = -1, steps_run_ = 0;
  std::unique_ptr<optim::Optimizer> opt_id_, opt_eg_, opt_d_, opt_dz_, opt_r_, opt_g_;
};

}  // namespace fer::train
