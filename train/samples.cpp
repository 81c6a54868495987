#include "train/samples.h"

#include "engine/ops.h"

namespace fer::train {

std::vector<data::Image> to_images(const Tensor& batch) {
  std::vector<data::Image> out;
  const Tensor host = batch.to(Device::CPU);
  for (int64_t i = 0; i < host.size(0); ++i) out.push_back(data::image_from_tensor(slice(host, 0, i, i + 1)));
  return out;
}

Tensor expression_sweep(models::Decoder& G, const Tensor& codes, int64_t classes) {
  NoGradGuard no_grad;
  std::vector<int64_t> rows;
  std::vector<float> labels;
  for (int64_t r = 0; r < codes.size(0); ++r)
    for (int64_t k = 0; k < classes; ++k) rows.push_back(r), labels.push_back(static_cast<float>(k));
  const auto n = static_cast<int64_t>(labels.size());
  return G.forward(index_select(codes, rows), Tensor::from_vector(labels, {n}, codes.device()));
}

Tensor prior_codes(int64_t n, int64_t latent, uint64_t seed, Device device) {
  RandomStream rng(seed);
  return uniform({n, latent}, -1, 1, rng, device);
}

}  // namespace fer::train
