// RandomStream draws (see random.h). All values are computed on the CPU from counters.
#include "engine/random.h"

#include <cmath>
#include <vector>

#include "kernels/common/random.h"

namespace fer {

double RandomStream::uniform() {
  return static_cast<double>(random_bits(seed_, take(1)) >> 11) * (1.0 / 9007199254740992.0);
}

double RandomStream::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t RandomStream::randint(int64_t n) {
  FER_CHECK(n > 0) << "randint needs a positive range, got " << n;
  return static_cast<int64_t>(random_bits(seed_, take(1)) % static_cast<uint64_t>(n));
}

Tensor uniform(const Shape& shape, double lo, double hi, RandomStream& rng, Device device) {
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (float& v : values) v = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return Tensor::from_vector(values, shape, device);
}

Tensor normal(const Shape& shape, double mean, double std, RandomStream& rng, Device device) {
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (float& v : values) v = static_cast<float>(mean + std * rng.normal());
  return Tensor::from_vector(values, shape, device);
}

}  // namespace fer
