#include "models/config.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"

namespace fer::models {

int64_t ModelConfig::ch(int64_t base) const {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(base) * width)));
}

void ModelConfig::validate() const {
  FER_CHECK(image_size >= 16 && image_size <= 128 && image_size % 16 == 0)
      << "model.image_size " << image_size << " must be a multiple of 16 in [16, 128]";
  FER_CHECK(channels == 1 || channels == 3) << "model.channels " << channels << " must be 1 or 3";
  FER_CHECK(classes >= 2) << "model.classes " << classes << " must be at least 2";
  FER_CHECK(latent >= 1) << "model.latent " << latent << " must be at least 1";
  FER_CHECK(width > 0 && width <= 8) << "model.width " << width << " must be in (0, 8]";
  FER_CHECK(feature_dim >= 1) << "model.feature_dim " << feature_dim << " must be at least 1";
  FER_CHECK(dropout >= 0 && dropout < 1) << "model.dropout " << dropout << " must be in [0, 1)";
}

}  // namespace fer::models
