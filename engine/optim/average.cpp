#include "engine/optim/average.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/common/error.h"

namespace fer::optim {

namespace {

void average_into(const nn::NamedTensors& average, const nn::NamedTensors& source, double decay) {
  FER_CHECK(average.size() == source.size())
      << "update_average: the average has " << average.size() << " tensors, the source " << source.size();
  for (size_t i = 0; i < average.size(); ++i) {
    const auto& [name, avg] = average[i];
    const Tensor& src = source[i].second;
    FER_CHECK(name == source[i].first && avg.shape() == src.shape())
        << "update_average: average tensor " << name << " " << avg.str() << " does not match source tensor "
        << source[i].first << " " << src.str();
    Tensor target = avg;  // a handle: copy_from writes the module's slot
    target.copy_from(avg * decay + src * (1 - decay));
  }
}

}  // namespace

void update_average(nn::Module& average, const nn::Module& source, double decay) {
  FER_CHECK(decay >= 0 && decay <= 1) << "update_average: decay " << decay << " is not in [0, 1]";
  NoGradGuard no_grad;
  average_into(average.named_parameters(), source.named_parameters(), decay);
  average_into(average.named_buffers(), source.named_buffers(), decay);
}

double warmed_up_decay(double decay, int64_t update) {
  const double t = static_cast<double>(update);
  return std::min(decay, (1 + t) / (10 + t));
}

}  // namespace fer::optim
