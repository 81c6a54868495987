#include "train/stages.h"

#include <sstream>

#include "engine/ops.h"
#include "train/phases.h"

namespace fer::train {

const char* stage_key(Stage stage) {
  static const char* const keys[] = {"stage0", "stage1", "stage2"};
  FER_CHECK(stage != Stage::Done) << "stage_key: Stage::Done is no stage";
  return keys[static_cast<int>(stage)];
}

Stage next_stage(Stage stage) {
  FER_CHECK(stage != Stage::Done) << "next_stage: Stage::Done has no next stage";
  return static_cast<Stage>(static_cast<int>(stage) + 1);
}

StageSettings stage_settings(const TrainConfig& c, Stage stage) {
  StageSettings s;
  std::ostringstream rates;
  switch (stage) {
    case Stage::Identity:
      s = {stage_key(stage), "stage 0 (identity)", c.stage0.epochs, c.stage0.batch_size, ""};
      rates << "stage0.lr = " << c.stage0.lr;
      break;
    case Stage::Fesgan:
      s = {stage_key(stage), "stage 1 (FESGAN)", c.stage1.epochs, c.stage1.batch_size, ""};
      rates << "stage1.lr = " << c.stage1.lr;
      break;
    case Stage::Recognizer:
      s = {stage_key(stage), "stage 2 (recognizer)", c.stage2.epochs, c.stage2.batch_size, ""};
      rates << "stage2.lr = " << c.stage2.lr;
      if (is_joint(c.run_mode())) rates << ", stage2.g_lr = " << c.stage2.g_lr;
      break;
    case Stage::Done:
      FER_THROW() << "stage_settings: Stage::Done is no stage";
  }
  s.learning_rates = rates.str();
  return s;
}

Stage stage_of_key(const std::string& key) {
  for (Stage stage : kStages)
    if (key == stage_key(stage)) return stage;
  return Stage::Done;
}

void step_on(std::initializer_list<optim::Optimizer*> optimizers, const Tensor& loss) {
  {
    const phases::Phase phase("optimizer");
    for (optim::Optimizer* o : optimizers)
      if (o) o->zero_grad();
  }
  {
    const phases::Phase phase("backward");
    loss.backward();
  }
  const phases::Phase phase("optimizer");
  for (optim::Optimizer* o : optimizers)
    if (o) o->step();
}

Tensor random_labels(int64_t n, int64_t classes, RandomStream& rng, Device device) {
  std::vector<float> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<float>(rng.randint(classes)));
  return Tensor::from_vector(labels, {n}, device);
}

// Stage 0: Id learns to tell the fold's training subjects apart (cross-entropy over subjects).
LossValues identity_step(FoldModels& m, const Batch& batch) {
  const Tensor loss = cross_entropy(m.Id->run(batch.images).logits, batch.subjects);
  step_on({m.opt_Id.get()}, loss);
  return {{"id_ce", loss.item()}};
}

}  // namespace fer::train
