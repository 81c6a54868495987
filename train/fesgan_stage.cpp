// Stage 1, FESGAN (docs/method.md "Stages"): per batch of real x with labels y, the image
// discriminator, then the latent discriminator, then E and G through both (frozen) discriminators.
#include "engine/ops.h"
#include "train/losses.h"
#include "train/stages.h"

namespace fer::train {

LossValues fesgan_step(FoldModels& m, const StepContext& context, const Batch& batch) {
  const FesganConfig& c = context.config.stage1;
  const int64_t n = batch.images.size(0), K = context.config.model.classes;
  const Tensor& x = batch.images;
  const Tensor& y = batch.labels;
  const Tensor prior = uniform({n, context.config.model.latent}, -1, 1, context.sample, context.device);
  const Tensor y_hat = random_labels(n, K, context.sample, context.device);
  const Tensor y_pf = random_labels(n, K, context.sample, context.device);

  const Tensor z = m.E->forward(x);
  const Tensor x_rec = m.G->forward(z, y), x_hat = m.G->forward(z, y_hat), x_pf = m.G->forward(prior, y_pf);
  const Tensor fakes = concat({x_hat, x_pf}, 0), fake_labels = concat({y_hat, y_pf}, 0);

  // Discriminators first, on detached fakes.
  const models::DiscriminatorOutput d_real = m.D->run(x), d_fake = m.D->run(fakes.detach());
  const Tensor loss_d = hinge_discriminator(d_real.adversarial, d_fake.adversarial) +
                        c.w_cls * cross_entropy(d_real.classes, y);
  step_on({m.opt_D.get()}, loss_d);
  const Tensor loss_dz = logistic(m.Dz->forward(prior), 1) + logistic(m.Dz->forward(z.detach()), 0);
  step_on({m.opt_Dz.get()}, loss_dz);

  // E and G through the updated, frozen discriminators.
  m.D->set_requires_grad(false);
  m.Dz->set_requires_grad(false);
  const models::DiscriminatorOutput g_fake = m.D->run(fakes);
  const Tensor adv = hinge_generator(g_fake.adversarial);
  const Tensor cls = cross_entropy(g_fake.classes, fake_labels);
  const Tensor rec = l1_loss(x_rec, x);
  const Tensor latent = logistic(m.Dz->forward(z), 1);
  Tensor loss_g = c.w_adv * adv + c.w_cls * cls + c.w_rec * rec + c.w_latent * latent;
  Tensor id;
  if (m.Id) {  // Id(x) is the target: no gradient into it
    Tensor target;
    {
      NoGradGuard no_grad;
      target = m.Id->forward(x);
    }
    id = l1_loss(m.Id->forward(x_rec), target);
    loss_g = loss_g + c.w_id * id;
  }
  m.D->set_requires_grad(true);
  m.Dz->set_requires_grad(true);
  step_on({m.opt_EG.get()}, loss_g);

  LossValues out = {{"g_total", loss_g.item()}, {"d", loss_d.item()}, {"dz", loss_dz.item()}, {"g_adv", adv.item()},
                    {"g_cls", cls.item()}, {"rec", rec.item()}, {"latent", latent.item()}};
  if (id.defined()) out.push_back({"id", id.item()});
  return out;
}

}  // namespace fer::train
