#include "train/fold_models.h"

#include <initializer_list>

namespace fer::train {

namespace {

std::unique_ptr<optim::Optimizer> adam(const nn::Module& m, double lr, double beta1, double beta2,
                                       double weight_decay = 0) {
  optim::AdamOptions o;
  o.lr = lr;
  o.beta1 = beta1;
  o.beta2 = beta2;
  o.weight_decay = weight_decay;
  return std::make_unique<optim::Adam>(m.parameters(), o);
}

}  // namespace

bool is_joint(Mode m) { return m == Mode::Joint || m == Mode::JointIntra || m == Mode::JointRdbp; }

bool trains_identity(const TrainConfig& config, int64_t training_subjects) {
  return config.run_mode() != Mode::Baseline && training_subjects >= 2 &&
         (config.stage0.epochs > 0 || !config.stage0.checkpoint.empty());
}

CenterBuffers::CenterBuffers(int64_t classes, int64_t dim)
    : centers(register_buffer("centers", Tensor::zeros({classes, dim}))),
      seen(register_buffer("seen", Tensor::zeros({classes}))) {}

nlohmann::json weights_context(const models::ModelConfig& m, const std::vector<std::string>& class_names) {
  return {{"image_size", m.image_size}, {"channels", m.channels}, {"classes", class_names},
          {"latent", m.latent},         {"width", m.width},       {"feature_dim", m.feature_dim}};
}

FoldModels::FoldModels(const TrainConfig& config, int64_t training_subjects, RandomStream& init, Device device) {
  const models::ModelConfig& m = config.model;
  const Mode mode = config.run_mode();
  R = std::make_shared<models::Recognizer>(m, init, static_cast<uint64_t>(config.seed) + 17);
  centers = std::make_shared<CenterBuffers>(m.classes, m.feature_dim);
  if (config.stage2.ema_decay > 0) {
    RandomStream unused(0);  // the average starts as a copy of R; `init` stays as without it
    R_ema = std::make_shared<models::Recognizer>(m, unused, 0);
    R_ema->load_state_dict(R->state_dict());
  }
  if (mode != Mode::Baseline) {
    E = std::make_shared<models::Encoder>(m, init);
    G = std::make_shared<models::Decoder>(m, init);
    D = std::make_shared<models::ImageDiscriminator>(m, init);
    Dz = std::make_shared<models::LatentDiscriminator>(m, init);
  }
  if (trains_identity(config, training_subjects))
    Id = std::make_shared<models::IdentityNet>(m, training_subjects, init);
  for (nn::Module* module : std::initializer_list<nn::Module*>{R.get(), R_ema.get(), centers.get(), E.get(), G.get(),
                                                                D.get(), Dz.get(), Id.get()})
    if (module) module->to(device);

  const JointConfig& j = config.stage2;
  const FesganConfig& f = config.stage1;
  opt_R = adam(*R, j.lr, j.beta1, 0.999, j.weight_decay);
  if (Id) opt_Id = adam(*Id, config.stage0.lr, 0.9, 0.999);
  if (mode == Mode::Baseline) return;
  optim::AdamOptions o;
  o.lr = f.lr, o.beta1 = f.beta1, o.beta2 = f.beta2;
  std::vector<Tensor> eg = E->parameters();
  for (const Tensor& p : G->parameters()) eg.push_back(p);
  opt_EG = std::make_unique<optim::Adam>(eg, o);
  opt_D = adam(*D, f.lr, f.beta1, f.beta2);
  opt_Dz = adam(*Dz, f.lr, f.beta1, f.beta2);
  if (is_joint(mode)) opt_G = adam(*G, j.g_lr, f.beta1, f.beta2);
}

TrainingObjects FoldModels::objects() {
  TrainingObjects o;
  const std::pair<const char*, nn::Module*> modules[] = {
      {"R", R.get()}, {"R_ema", R_ema.get()}, {"centers", centers.get()}, {"E", E.get()},
      {"G", G.get()}, {"D", D.get()},         {"Dz", Dz.get()},           {"Id", Id.get()}};
  for (const auto& [name, module] : modules)
    if (module) o.modules[name] = module;
  const std::pair<const char*, optim::Optimizer*> optimizers[] = {
      {"R", opt_R.get()}, {"Id", opt_Id.get()}, {"EG", opt_EG.get()},
      {"D", opt_D.get()}, {"Dz", opt_Dz.get()}, {"G", opt_G.get()}};
  for (const auto& [name, opt] : optimizers)
    if (opt) o.optimizers[name] = opt;
  o.random_streams["dropout"] = &R->dropout_stream();
  return o;
}

}  // namespace fer::train
