// The configuration of `fer train`: one explicit struct per stage, bound to dotted names by
// bind(). The defaults are the recipe chosen on validation accuracy (docs/method.md, "The
// recipe"); where it departs from docs/design.md's starting points the comment says "design:".
// config.json in a RUNDIR is to_json() of the resolved values, and loading it back gives the
// same run.
#pragma once
#include <string>

#include "models/config.h"
#include "train/fields.h"

namespace fer::train {

// Which parts of the method run (docs/design.md "Ablations").
enum class Mode { Baseline, Synth, Joint, JointIntra, JointRdbp };
Mode parse_mode(const std::string& name);  // throws suggesting the nearest name
const char* mode_name(Mode mode);
const std::vector<std::string>& mode_names();

struct DataConfig {
  std::string format = "auto";  // auto | folder | fer2013 | manifest
  std::string classes;          // comma-separated subset, empty: all
  std::string subject_pattern = "^(S\\d+)_";
  // The data has no subject IDs: each image is a group of its own, and the split is not
  // subject-independent (the summary and report say so). Without it, a sample without a
  // subject is an error.
  bool no_subjects = false;
  bool strict = false;          // unreadable images are errors instead of skipped
  bool augment = true;          // augment real training images (data/augment.h); flips always
  // Which stages' real batches are augmented: "all" (stages 0, 1, 2) or "recognizer" (stage 2
  // only: the identity network and FESGAN see the images unchanged, so that FESGAN's
  // reconstruction and discriminator targets are the faces themselves; in the joint modes D_img's
  // real images in stage 2 are the recognizer's augmented batch).
  std::string augment_stages = "recognizer";  // design: all
  double augment_shift = 0.0625;  // crop offset up to this fraction of the image size
  double augment_scale = 0.05;    // zoom in [1 - scale, 1 + scale]
  double augment_rotate = 5;      // rotation in degrees, up to +-
  double augment_brightness = 0.1;  // offset in units of [-1, 1], up to +-
  double augment_contrast = 0.2;    // factor in [1 - contrast, 1 + contrast]
};

struct ProtocolConfig {
  // "kfold"; "fixed": the data's own split (manifest split column, FER2013 Usage), one fold;
  // "auto": fixed when the data has split values, else kfold.
  std::string kind = "auto";
  int64_t folds = 5;             // subject-independent k-fold
  int64_t fold = -1;             // -1: every fold; otherwise only this one
  double val_fraction = 0.25;    // inner validation subjects (of the training subjects); design: 0.2
};

struct IdentityConfig {          // stage 0
  int64_t epochs = 3;            // design: 10
  int64_t batch_size = 16;       // design: 32
  double lr = 1e-3;
  std::string checkpoint;        // load Id from here instead of training it
};

struct FesganConfig {            // stage 1
  int64_t epochs = 30;
  int64_t batch_size = 16;       // design: 32
  double lr = 1e-3;              // design: 2e-4 (at 2e-4 the small FESGAN still draws noise after 300 steps)
  double beta1 = 0.5;
  double beta2 = 0.999;
  double w_rec = 10;             // L1(x_rec, x)
  double w_id = 5;               // L1(Id(x_rec), Id(x))
  double w_cls = 1;              // class head CE on x_hat and x_pf (G) and on real x (D)
  double w_adv = 1;              // hinge generator loss
  double w_latent = 1;           // D_z logistic loss for E
};

struct JointConfig {             // stage 2 (and the recognizer of every ablation)
  int64_t epochs = 120;          // design: 30 (the baseline's validation accuracy still rises at 120)
  int64_t batch_size = 16;       // design: 32
  int64_t synth_batch = 16;      // synthetic faces per step (synth and joint modes); design: 32
  double lr = 1e-3;              // recognizer Adam
  // The recognizer's learning rate over the epochs: "constant", or "cosine" (lr * (1 + cos(pi e / E)) / 2
  // in epoch e of E: a pure function of the epoch, so --resume needs no state for it).
  std::string lr_schedule = "constant";
  double beta1 = 0.9;
  double weight_decay = 5e-4;
  // The recognizer that is evaluated, selected and tested: an exponential moving average of R's
  // weights with this decay per step (engine/optim/average.h), or R itself when 0.
  double ema_decay = 0.99;       // design: 0 (the baseline's late validation accuracy rises 2 points)
  double w_synth = 1;            // CE(R(x_s), y_s)
  double w_intra = 0.1;          // intra-class loss
  double intra_momentum = 0.1;   // running class centers
  double g_lr = 2e-4;            // generator Adam in the joint stage
  double g_w_adv = 1;            // G's hinge loss in the joint stage
  double g_w_cls = 1;            // G's class-head loss in the joint stage
};

// The judge of G's faces (train/synthesis.h), in the modes that train a generator.
struct JudgeConfig {
  bool enabled = true;           // score G's faces at the end of every stage-1 and stage-2 epoch
  // A recognizer trained on this fold's real training images (a baseline run's
  // checkpoints/fold<i>_best_R.safetensors); empty: train one into RUNDIR/judge/ first.
  std::string checkpoint;
  int64_t faces = 32;            // probe faces and prior codes, each in every expression
};

// The recipe's models: 48x48, width 0.25, latent 16, feature 64 (design: 64, 1, 50, 256; the
// benchmarks keep the design's models::ModelConfig{}).
inline models::ModelConfig recipe_model() {
  models::ModelConfig m;
  m.image_size = 48;
  m.width = 0.25;
  m.latent = 16;
  m.feature_dim = 64;
  return m;
}

struct TrainConfig {
  std::string mode = "joint-rdbp";
  std::string device = "cpu";
  std::string kernels = "native";  // on cuda: hand-written kernels, or "vendor" (cuDNN, cuBLAS)
  int64_t seed = 0;
  int64_t sample_identities = 4;  // rows of the per-epoch sample grids
  models::ModelConfig model = recipe_model();
  DataConfig data;
  ProtocolConfig protocol;
  IdentityConfig stage0;
  FesganConfig stage1;
  JointConfig stage2;
  JudgeConfig judge;

  // Binds every field to its dotted name ("stage1.lr", "model.image_size", ...).
  void bind(FieldSet& fields);
  // Checks ranges, naming the key.
  void validate() const;
  Mode run_mode() const { return parse_mode(mode); }
};

// A sized-down configuration for `fer demo` and the tests: image size, width, epochs.
TrainConfig small_config(int64_t image_size, double width, int64_t epochs);

}  // namespace fer::train
