// Seeded, reproducible random numbers for initialization, dropout, sampling and shuffling.
//
// A RandomStream is a seed plus a counter. Every draw reserves a range of counters, and value i of
// that range is random_bits(seed, offset + i) (kernels/common/random.h): a pure function, so
// the CPU and the GPU produce the same numbers in any thread order, and a checkpoint restores
// the stream exactly by saving (seed, offset).
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace fer {

class RandomStream {
 public:
  explicit RandomStream(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  // Reserves n counters and returns the first.
  uint64_t take(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  double uniform();                 // [0, 1)
  double normal();                  // standard normal (Box-Muller on two uniforms)
  int64_t randint(int64_t n);       // [0, n)

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// Tensors of random values, drawn on the CPU and copied to `device`.
Tensor uniform(const Shape& shape, double lo, double hi, RandomStream& rng, Device device = Device::CPU);
Tensor normal(const Shape& shape, double mean, double std, RandomStream& rng, Device device = Device::CPU);

}  // namespace fer
