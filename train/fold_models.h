// The networks and optimizers of one fold (docs/method.md "Networks" and "Stages"). Which exist
// depends on the mode: R (and R_ema, its average, when stage2.ema_decay > 0) and the class centers
// always; E, G, D_img and D_z in the generator modes; Id when the identity network is trained or
// loaded (trains_identity). They are built in a fixed order from one RandomStream, so a fold's
// initial weights are a pure function of (seed, fold), and moved to the run's device.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/optim/optimizer.h"
#include "models/fesgan.h"
#include "models/recognizer.h"
#include "train/config.h"

namespace fer::train {

// The modes whose stage 2 trains G with R.
bool is_joint(Mode mode);
// Whether stage 0's identity network exists: a generator mode, at least two training subjects,
// and stage 0 epochs to train or stage0.checkpoint to load.
bool trains_identity(const TrainConfig& config, int64_t training_subjects);

// The running class centers of the intra-class loss, as buffers so checkpoints carry them.
class CenterBuffers : public nn::Module {
 public:
  CenterBuffers(int64_t classes, int64_t dim);
  std::string type_name() const override { return "CenterBuffers"; }
  Tensor& centers;
  Tensor& seen;
};

// What a fold's checkpoints are made for, saved in each and checked by every load (a 16-px
// recognizer has the shapes of a 32-px one): image size, channels, the class names in order, and
// the model sizes.
nlohmann::json weights_context(const models::ModelConfig& model, const std::vector<std::string>& class_names);

struct FoldModels {
  FoldModels(const TrainConfig& config, int64_t training_subjects, RandomStream& init, Device device);

  std::shared_ptr<models::Recognizer> R;
  std::shared_ptr<models::Recognizer> R_ema;  // the average of R's weights (stage2.ema_decay > 0)
  std::shared_ptr<CenterBuffers> centers;
  std::shared_ptr<models::Encoder> E;
  std::shared_ptr<models::Decoder> G;
  std::shared_ptr<models::ImageDiscriminator> D;
  std::shared_ptr<models::LatentDiscriminator> Dz;
  std::shared_ptr<models::IdentityNet> Id;
  // Stage 0: Id. Stage 1: E and G as one optimizer (their losses are one sum), D, Dz. Stage 2: R,
  // and G in the joint modes (D keeps opt_D).
  std::unique_ptr<optim::Optimizer> opt_Id, opt_EG, opt_D, opt_Dz, opt_R, opt_G;

  // The recognizer that is evaluated, selected and tested: R_ema when it exists, else R.
  models::Recognizer& evaluated_recognizer() { return R_ema ? *R_ema : *R; }
  // Every module and optimizer that exists, under its checkpoint name, with R's dropout stream.
  TrainingObjects objects();
};

}  // namespace fer::train
