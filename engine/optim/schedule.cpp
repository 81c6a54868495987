// Learning-rate schedules. See schedule.h for the formulas.
#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace fer::optim {

StepLR::StepLR(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
  FER_CHECK(step_size > 0 && gamma > 0 && base_lr >= 0)
      << "StepLR: step_size " << step_size << " and gamma " << gamma << " must be positive, base_lr "
      << base_lr << " non-negative";
}

double StepLR::lr_at(int64_t step) const {
  FER_CHECK(step >= 0) << "StepLR: negative step " << step;
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineLR::CosineLR(double base_lr, int64_t total_steps, double min_lr, int64_t warmup_steps)
    : base_lr_(base_lr), total_steps_(total_steps), min_lr_(min_lr), warmup_steps_(warmup_steps) {
  FER_CHECK(warmup_steps >= 0 && total_steps > warmup_steps && min_lr >= 0 && min_lr <= base_lr)
      << "CosineLR: needs 0 <= warmup_steps (" << warmup_steps << ") < total_steps (" << total_steps
      << ") and 0 <= min_lr (" << min_lr << ") <= base_lr (" << base_lr << ")";
}

double CosineLR::lr_at(int64_t step) const {
  FER_CHECK(step >= 0) << "CosineLR: negative step " << step;
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double t = static_cast<double>(std::min(step, total_steps_) - warmup_steps_);
  const double span = static_cast<double>(total_steps_ - warmup_steps_);
  return min_lr_ + (base_lr_ - min_lr_) * 0.5 * (1 + std::cos(M_PI * t / span));
}

}  // namespace fer::optim
