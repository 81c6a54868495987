// Stage 2, the recognizer (docs/method.md "Stages"): R on real faces, and in the generator modes
// on faces of G as well (frozen G in synth; in the joint modes G trains with R on the same
// backward), with the intra-class loss in joint-intra (naive) and joint-rdbp (RDBP). D_img keeps
// training against G's faces in the joint modes.
#include "engine/ops.h"
#include "engine/ops/rdbp.h"
#include "train/losses.h"
#include "train/stages.h"

namespace fer::train {

JointTerms joint_terms(FoldModels& m, const StepContext& context, const Batch& batch) {
  const JointConfig& c = context.config.stage2;
  JointTerms t;
  const models::RecognizerOutput real = m.R->run(batch.images);
  t.ce_real = cross_entropy(real.logits, batch.labels);
  t.total = t.ce_real;
  if (context.mode == Mode::Baseline) return t;

  const int64_t n = c.synth_batch;
  const Tensor prior = uniform({n, context.config.model.latent}, -1, 1, context.sample, context.device);
  const Tensor y_s = random_labels(n, context.config.model.classes, context.sample, context.device);
  if (is_joint(context.mode)) {
    t.synthetic = m.G->forward(prior, y_s);
  } else {  // synth: the pre-trained G is frozen
    NoGradGuard no_grad;
    m.G->eval();
    t.synthetic = m.G->forward(prior, y_s);
    m.G->train();
  }
  const models::RecognizerOutput synth = m.R->run(t.synthetic);
  t.ce_synth = cross_entropy(synth.logits, y_s);
  t.total = t.total + c.w_synth * t.ce_synth;
  if (context.mode == Mode::JointIntra || context.mode == Mode::JointRdbp) {
    IntraClassOptions o;
    o.mode = context.mode == Mode::JointRdbp ? RdbpMode::Rdbp : RdbpMode::Naive;
    o.momentum = c.intra_momentum;
    t.intra = intra_class_loss(real.feature, batch.labels, synth.feature, y_s, m.centers->centers,
                               m.centers->seen, o);
    t.total = t.total + c.w_intra * t.intra;
  }
  if (is_joint(context.mode)) {
    m.D->set_requires_grad(false);
    const models::DiscriminatorOutput d = m.D->run(t.synthetic);
    m.D->set_requires_grad(true);
    t.g_adv = hinge_generator(d.adversarial);
    t.g_cls = cross_entropy(d.classes, y_s);
    t.total = t.total + c.g_w_adv * t.g_adv + c.g_w_cls * t.g_cls;
  }
  return t;
}

LossValues joint_step(FoldModels& m, const StepContext& context, const Batch& batch) {
  const JointTerms t = joint_terms(m, context, batch);
  step_on({m.opt_R.get(), m.opt_G.get()}, t.total);  // opt_G: the joint modes only
  LossValues out = {{"total", t.total.item()}, {"ce_real", t.ce_real.item()}};
  if (t.ce_synth.defined()) out.push_back({"ce_synth", t.ce_synth.item()});
  if (t.intra.defined()) out.push_back({"intra", t.intra.item()});
  if (!is_joint(context.mode)) return out;
  // D_img keeps training as in stage 1, against the faces G produced for this step.
  const models::DiscriminatorOutput d_real = m.D->run(batch.images), d_fake = m.D->run(t.synthetic.detach());
  const Tensor loss_d = hinge_discriminator(d_real.adversarial, d_fake.adversarial) +
                        context.config.stage1.w_cls * cross_entropy(d_real.classes, batch.labels);
  step_on({m.opt_D.get()}, loss_d);
  out.push_back({"g_adv", t.g_adv.item()});
  out.push_back({"g_cls", t.g_cls.item()});
  out.push_back({"d", loss_d.item()});
  return out;
}

}  // namespace fer::train
