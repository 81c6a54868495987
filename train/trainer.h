// One fold of the method: the epochs of stage 0 (identity network), stage 1 (FESGAN) and stage 2
// (the recognizer, jointly with the generator in the joint modes), whose steps are
// train/stages.h's; after each epoch the losses, the validation accuracy and model selection,
// the sample grid and the judge's scores, and a checkpoint; at the end the test-fold evaluation
// (docs/method.md "Stages"). The networks and optimizers are train/fold_models.h's.
//
// Which stages run depends on the mode: baseline runs stage 2 on real data only; synth adds
// synthetic faces of the frozen pre-trained G; joint, joint-intra and joint-rdbp train G with R.
// Stage 0 runs when stage 1 does, the data has at least two training subjects and
// stage0.epochs > 0 (or stage0.checkpoint names a trained Id); otherwise the identity loss is off.
//
// With stage2.ema_decay > 0, an exponential moving average of R's weights, updated after every R
// step, is the recognizer that validation selects and the test fold measures (R keeps training).
// Checkpoints (DIR/checkpoints/fold<i>.safetensors) hold every module, optimizer, random stream
// and the running class centers, with the position (stage, epoch, step in epoch): written atomically
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
#include "models/recognizer.h"
#include "train/config.h"
#include "train/fold_models.h"
#include "train/imageset.h"
#include "train/metrics.h"
#include "train/runlog.h"
#include "train/stages.h"
#include "train/synthesis.h"

namespace fer::train {

struct FoldData {
  ImageSet train, val, test;
  std::vector<std::string> class_names;
};

struct FoldResult {
  int64_t fold = 0;
  Confusion test{0};
  double best_val_accuracy = 0;
  int64_t best_epoch = -1;
};

// The confusion matrix of R (put in eval mode, then back in train mode) over every image of set.
Confusion evaluate_recognizer(models::Recognizer& R, const ImageSet& set, int64_t classes, Device device);

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

  // One step of each stage on a batch, with this fold's models and sampling stream (for the tests
  // and the step benchmark). Returns the logged losses.
  LossValues identity_step(const Batch& batch) { return train::identity_step(models_, batch); }
  LossValues fesgan_step(const Batch& batch) { return train::fesgan_step(models_, step_context(), batch); }
  LossValues joint_step(const Batch& batch) { return train::joint_step(models_, step_context(), batch); }
  JointTerms joint_terms(const Batch& batch) { return train::joint_terms(models_, step_context(), batch); }
  // Rows of set as the batch of a step of `stage`: augmented when data.augment is on and
  // data.augment_stages includes the stage (augments(stage)).
  Batch batch_of(const ImageSet& set, const std::vector<int64_t>& rows, Stage stage = Stage::Recognizer);
  bool augments(Stage stage) const;

  // The recognizer that is evaluated, selected and tested: the average of R's weights when
  // stage2.ema_decay > 0, else R.
  models::Recognizer& evaluated_recognizer() { return models_.evaluated_recognizer(); }
  Confusion evaluate(const ImageSet& set);
  bool uses_generator() const { return mode_ != Mode::Baseline; }
  bool uses_identity() const { return models_.Id != nullptr; }
  // The judge scores G's faces (train/synthesis.h): generator modes with judge.enabled and a
  // non-empty validation split.
  bool uses_judge() const;
  // G's faces now, as the judge and Id see them (E and G in eval mode for the measurement).
  SynthesisScores score_generator();

  models::Encoder& encoder() { return *models_.E; }
  models::Decoder& generator() { return *models_.G; }
  models::Recognizer& recognizer() { return *models_.R; }
  // What a checkpoint holds: the models' objects and the sampling stream.
  TrainingObjects objects();
  std::string checkpoint_path() const;
  std::string best_recognizer_path() const;

 private:
  struct Position;
  StepContext step_context() { return {config_, mode_, device_, sample_rng_}; }
  void run_stage(Stage stage, const ImageSet& set, Position& at);
  LossValues step(Stage stage, const Batch& batch);
  nlohmann::json end_epoch(Stage stage, int64_t epoch, Position& at);
  void save(const Position& at);
  void drop_records_after(const Position& at);
  // Throws naming the stage, `when` ("epoch 3, step 7"), `why` and the stage's learning rates,
  // unless why is empty.
  void stop_if_diverged(Stage stage, const std::string& when, const std::string& why) const;
  void write_samples(const std::string& name);
  // Keeps R as the selected recognizer when val_accuracy is a new best; returns whether it was.
  bool select_if_best(double val_accuracy, int64_t epoch, Position& at);
  void prepare_judge();

  TrainConfig config_;  // validated
  Mode mode_;
  Device device_;
  FoldData data_;
  nlohmann::json context_;  // weights_context of this run
  std::string dir_;
  int64_t fold_;
  RunLog& log_;
  RandomStream init_rng_, sample_rng_;
  FoldModels models_;
  std::shared_ptr<models::Recognizer> judge_;  // frozen; set by prepare_judge()
  int64_t stop_after_ = -1, steps_run_ = 0;
};

}  // namespace fer::train
