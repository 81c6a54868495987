// Learning-rate schedules as pure functions of the step: lr_at(step) depends on nothing else, so
// a resumed run needs only its step counter. apply() sets the optimizer's rate for a step.
//
//   StepLR:   base * gamma^floor(step / step_size)                         (torch StepLR)
//   CosineLR: linear warm-up base * (step + 1) / warmup_steps for step < warmup_steps, then
//             min + (base - min) * (1 + cos(pi * t / T)) / 2 with t = step - warmup_steps and
//             T = total_steps - warmup_steps, held at min after the end.
#pragma once
#include <cstdint>

#include "engine/optim/optimizer.h"

namespace fer::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t step) const = 0;
  void apply(Optimizer& optimizer, int64_t step) const { optimizer.set_lr(lr_at(step)); }
};

class StepLR : public LrSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

class CosineLR : public LrSchedule {
 public:
  CosineLR(double base_lr, int64_t total_steps, double min_lr = 0, int64_t warmup_steps = 0);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
  int64_t total_steps_;
  double min_lr_;
  int64_t warmup_steps_;
};

}  // namespace fer::optim
