// The three training stages of a fold (docs/method.md "Stages"), each one step on one batch:
//   Stage::Identity    stage 0, identity_step   (train/stages.cpp)
//   Stage::Fesgan      stage 1, fesgan_step     (train/fesgan_stage.cpp)
//   Stage::Recognizer  stage 2, joint_step      (train/recognizer_stage.cpp): the recognizer, with
//                      the generator in the joint modes; joint_terms builds its loss.
// A step takes the fold's models (train/fold_models.h) and a StepContext, runs its forwards,
// backwards and optimizer steps, and returns the losses it logs. FoldTrainer (train/trainer.h)
// runs the epochs around them.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "engine/random.h"
#include "train/config.h"
#include "train/fold_models.h"
#include "train/imageset.h"
#include "train/runlog.h"

namespace fer::train {

// Done: a fold's position once every stage has finished. Saved as its number in checkpoints.
enum class Stage { Identity = 0, Fesgan = 1, Recognizer = 2, Done = 3 };
inline constexpr Stage kStages[] = {Stage::Identity, Stage::Fesgan, Stage::Recognizer};

// What the configuration says about one stage.
struct StageSettings {
  const char* key;   // its config section and metrics.jsonl "stage": "stage0", "stage1", "stage2"
  const char* name;  // for people: "stage 1 (FESGAN)"
  int64_t epochs = 0;
  int64_t batch_size = 0;
  std::string learning_rates;  // "stage2.lr = 0.001, stage2.g_lr = 0.0002", for error messages
};
StageSettings stage_settings(const TrainConfig& config, Stage stage);
// "stage0", "stage1", "stage2" (not Stage::Done).
const char* stage_key(Stage stage);
// The stage after `stage`, Stage::Done after the last.
Stage next_stage(Stage stage);
// The stage whose key is `key`; Stage::Done for anything else.
Stage stage_of_key(const std::string& key);

// What a step needs besides the models. `sample` draws the priors and random labels (and is
// saved in checkpoints, so a resumed run draws the same).
struct StepContext {
  const TrainConfig& config;
  Mode mode;
  Device device;
  RandomStream& sample;
};

// The loss terms of one stage-2 step, unweighted, before any backward (undefined when a term is
// off in the mode). total is what the step differentiates.
struct JointTerms {
  Tensor ce_real, ce_synth, intra, g_adv, g_cls;
  Tensor total;
  Tensor synthetic;  // x_s (undefined in baseline)
};

LossValues identity_step(FoldModels& models, const Batch& batch);
LossValues fesgan_step(FoldModels& models, const StepContext& context, const Batch& batch);
JointTerms joint_terms(FoldModels& models, const StepContext& context, const Batch& batch);
LossValues joint_step(FoldModels& models, const StepContext& context, const Batch& batch);

// Shared by the steps: zero_grad of every optimizer, one backward of loss, then each optimizer's
// step in order; null optimizers are skipped (timed as the phases "optimizer" and "backward",
// train/phases.h).
void step_on(std::initializer_list<optim::Optimizer*> optimizers, const Tensor& loss);
// n labels drawn uniformly from [0, classes).
Tensor random_labels(int64_t n, int64_t classes, RandomStream& rng, Device device);

}  // namespace fer::train
