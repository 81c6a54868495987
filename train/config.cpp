#include "train/config.h"

#include <cmath>

#include "kernels/common/error.h"

namespace fer::train {

const std::vector<std::string>& mode_names() {
  static const std::vector<std::string> names = {"baseline", "synth", "joint", "joint-intra", "joint-rdbp"};
  return names;
}

Mode parse_mode(const std::string& name) {
  const auto& names = mode_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Mode>(i);
  FER_THROW() << "unknown mode '" << name << "'" << suggestion(name, names)
              << "; modes: baseline, synth, joint, joint-intra, joint-rdbp";
}

const char* mode_name(Mode mode) { return mode_names()[static_cast<size_t>(mode)].c_str(); }

void TrainConfig::bind(FieldSet& f) {
  f.add("mode", &mode, "ablation: which parts of the method run", mode_names());
  f.add("device", &device, "where tensors live", {"cpu", "cuda", "cuda-sim"});
  f.add("kernels", &kernels, "on cuda: the hand-written kernels or cuDNN/cuBLAS", {"native", "vendor"});
  f.add("seed", &seed, "seed of initialization, sampling, shuffling and splits");
  f.add("sample_identities", &sample_identities, "identities (rows) in the per-epoch sample grids");
  f.add("model.image_size", &model.image_size, "S: square image size, a multiple of 16 in [16, 128]");
  f.add("model.channels", &model.channels, "C: 1 gray or 3 RGB");
  f.add("model.classes", &model.classes, "K: expression classes (set from the data)");
  f.add("model.latent", &model.latent, "d: identity code size");
  f.add("model.width", &model.width, "w: multiplies every convolution's channel count");
  f.add("model.feature_dim", &model.feature_dim, "recognizer feature f and identity embedding size");
  f.add("model.dropout", &model.dropout, "recognizer dropout before the classifier");
  f.add("data.format", &data.format, "dataset format", {"auto", "folder", "fer2013", "manifest"});
  f.add("data.classes", &data.classes, "comma-separated class subset (empty: all)");
  f.add("data.subject_pattern", &data.subject_pattern, "regex whose group 1 is the subject ID in a file name");
  f.add("data.no_subjects", &data.no_subjects,
        "the data has no subject IDs: each image is its own group (the split is not subject-independent)");
  f.add("data.strict", &data.strict, "unreadable images are errors instead of skipped");
  f.add("data.augment", &data.augment, "augment real training images (flip, shift, zoom, rotation, light)");
  f.add("data.augment_stages", &data.augment_stages,
        "which stages augment their real batches: all (0, 1, 2) or recognizer (stage 2 only)", {"all", "recognizer"});
  f.add("data.augment_shift", &data.augment_shift, "augmentation: largest shift, as a fraction of the image size");
  f.add("data.augment_scale", &data.augment_scale, "augmentation: zoom in [1 - scale, 1 + scale]");
  f.add("data.augment_rotate", &data.augment_rotate, "augmentation: largest rotation in degrees");
  f.add("data.augment_brightness", &data.augment_brightness, "augmentation: largest brightness offset ([-1, 1] units)");
  f.add("data.augment_contrast", &data.augment_contrast, "augmentation: contrast factor in [1 - c, 1 + c]");
  f.add("protocol.kind", &protocol.kind, "kfold, fixed (the data's own split column), or auto (fixed when the data has one)",
        {"auto", "kfold", "fixed"});
  f.add("protocol.folds", &protocol.folds, "K of the subject-independent k-fold protocol");
  f.add("protocol.fold", &protocol.fold, "run only this fold (-1: all)");
  f.add("protocol.val_fraction", &protocol.val_fraction, "share of training subjects held out for model selection");
  f.add("stage0.epochs", &stage0.epochs, "identity network epochs (0: identity loss off)");
  f.add("stage0.batch_size", &stage0.batch_size, "identity network batch size");
  f.add("stage0.lr", &stage0.lr, "identity network Adam learning rate");
  f.add("stage0.checkpoint", &stage0.checkpoint, "load Id from this safetensors file instead of training it");
  f.add("stage1.epochs", &stage1.epochs, "FESGAN pre-training epochs");
  f.add("stage1.batch_size", &stage1.batch_size, "FESGAN batch size");
  f.add("stage1.lr", &stage1.lr, "FESGAN Adam learning rate (E, G, D_img, D_z)");
  f.add("stage1.beta1", &stage1.beta1, "FESGAN Adam beta1");
  f.add("stage1.beta2", &stage1.beta2, "FESGAN Adam beta2");
  f.add("stage1.w_rec", &stage1.w_rec, "weight of L1(x_rec, x)");
  f.add("stage1.w_id", &stage1.w_id, "weight of L1(Id(x_rec), Id(x))");
  f.add("stage1.w_cls", &stage1.w_cls, "weight of the class-head cross-entropies");
  f.add("stage1.w_adv", &stage1.w_adv, "weight of the generator's hinge loss");
  f.add("stage1.w_latent", &stage1.w_latent, "weight of the encoder's latent adversarial loss");
  f.add("stage2.epochs", &stage2.epochs, "recognizer epochs (joint stage)");
  f.add("stage2.batch_size", &stage2.batch_size, "real images per recognizer step");
  f.add("stage2.synth_batch", &stage2.synth_batch, "synthetic images per recognizer step");
  f.add("stage2.lr", &stage2.lr, "recognizer Adam learning rate");
  f.add("stage2.lr_schedule", &stage2.lr_schedule, "recognizer learning rate over the epochs", {"constant", "cosine"});
  f.add("stage2.beta1", &stage2.beta1, "recognizer Adam beta1");
  f.add("stage2.weight_decay", &stage2.weight_decay, "recognizer L2 weight decay");
  f.add("stage2.ema_decay", &stage2.ema_decay, "decay of the averaged recognizer that is evaluated (0: R itself)");
  f.add("stage2.w_synth", &stage2.w_synth, "weight of CE(R(x_s), y_s)");
  f.add("stage2.w_intra", &stage2.w_intra, "weight of the intra-class loss");
  f.add("stage2.intra_momentum", &stage2.intra_momentum, "momentum of the running class centers");
  f.add("stage2.g_lr", &stage2.g_lr, "generator Adam learning rate in the joint stage");
  f.add("stage2.g_w_adv", &stage2.g_w_adv, "weight of G's hinge loss in the joint stage");
  f.add("stage2.g_w_cls", &stage2.g_w_cls, "weight of G's class-head loss in the joint stage");
  f.add("judge.enabled", &judge.enabled, "score G's faces every stage-1/2 epoch with a recognizer of real faces");
  f.add("judge.checkpoint", &judge.checkpoint,
        "the judge: a recognizer of this fold's real training images (empty: train one into RUNDIR/judge/)");
  f.add("judge.faces", &judge.faces, "validation faces and prior codes the judge scores, each in every expression");
}

void TrainConfig::validate() const {
  parse_mode(mode);
  model.validate();
  FER_CHECK(kernels != "vendor" || device == "cuda")
      << "kernels vendor needs device cuda (cuDNN and cuBLAS run on a GPU; device is " << device << ")";
  FER_CHECK(protocol.folds >= 2) << "protocol.folds " << protocol.folds << " must be at least 2";
  FER_CHECK(protocol.fold >= -1 && protocol.fold < protocol.folds)
      << "protocol.fold " << protocol.fold << " must be -1 or in [0, " << protocol.folds << ")";
  FER_CHECK(protocol.val_fraction > 0 && protocol.val_fraction < 1)
      << "protocol.val_fraction " << protocol.val_fraction << " must be in (0, 1)";
  for (auto [name, value] : {std::pair{"stage0.batch_size", stage0.batch_size},
                             std::pair{"stage1.batch_size", stage1.batch_size},
                             std::pair{"stage2.batch_size", stage2.batch_size},
                             std::pair{"stage2.synth_batch", stage2.synth_batch}})
    FER_CHECK(value >= 2) << name << " " << value << " must be at least 2 (batch norm needs 2 samples)";
  for (auto [name, value] : {std::pair{"stage0.lr", stage0.lr}, std::pair{"stage1.lr", stage1.lr},
                             std::pair{"stage2.lr", stage2.lr}, std::pair{"stage2.g_lr", stage2.g_lr}})
    FER_CHECK(value > 0 && std::isfinite(value)) << name << " " << value << " must be a positive number";
  for (auto [name, value] : {std::pair{"stage0.epochs", stage0.epochs}, std::pair{"stage1.epochs", stage1.epochs},
                             std::pair{"stage2.epochs", stage2.epochs}})
    FER_CHECK(value >= 0) << name << " " << value << " must not be negative";
  for (auto [name, value] : {std::pair{"data.augment_shift", data.augment_shift},
                             std::pair{"data.augment_scale", data.augment_scale},
                             std::pair{"data.augment_contrast", data.augment_contrast}})
    FER_CHECK(value >= 0 && value < 1) << name << " " << value << " must be in [0, 1)";
  FER_CHECK(data.augment_stages == "all" || data.augment_stages == "recognizer")
      << "data.augment_stages '" << data.augment_stages << "' must be all or recognizer";
  FER_CHECK(data.augment_rotate >= 0 && data.augment_rotate <= 180)
      << "data.augment_rotate " << data.augment_rotate << " must be in [0, 180]";
  FER_CHECK(data.augment_brightness >= 0 && data.augment_brightness <= 1)
      << "data.augment_brightness " << data.augment_brightness << " must be in [0, 1]";
  FER_CHECK(judge.faces >= 2) << "judge.faces " << judge.faces << " must be at least 2";
  FER_CHECK(stage2.ema_decay >= 0 && stage2.ema_decay < 1)
      << "stage2.ema_decay " << stage2.ema_decay << " must be in [0, 1)";
  FER_CHECK(stage2.intra_momentum > 0 && stage2.intra_momentum <= 1)
      << "stage2.intra_momentum " << stage2.intra_momentum << " must be in (0, 1]";
}

TrainConfig small_config(int64_t image_size, double width, int64_t epochs) {
  TrainConfig c;
  c.model.image_size = image_size;
  c.model.width = width;
  c.model.latent = 16;
  c.model.feature_dim = 64;
  c.stage0.epochs = epochs;
  c.stage1.epochs = epochs;
  c.stage2.epochs = epochs;
  return c;
}

}  // namespace fer::train
