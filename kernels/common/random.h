// Counter-based random numbers: value i of stream (seed, offset) is a pure function of
// (seed, offset + i). The CPU, the simulator and the GPU therefore draw identical numbers in any
// thread order, which makes dropout masks and initializations reproducible on every device.
// Mixing function: SplitMix64 finalizer applied twice (passes BigCrush for this use).
#pragma once
#include <cstdint>

// Callable from host and device code (the simulator needs no qualifier: device code is host code).
#ifdef __CUDACC__
#define FER_HOST_DEVICE __host__ __device__
#else
#define FER_HOST_DEVICE
#endif

namespace fer {

FER_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 64 random bits for counter `index` of stream `seed`.
FER_HOST_DEVICE inline uint64_t random_bits(uint64_t seed, uint64_t index) {
  return mix64(mix64(seed) ^ index);
}

// Uniform in [0, 1) with 24 bits of resolution (exactly representable in float).
FER_HOST_DEVICE inline float random_uniform(uint64_t seed, uint64_t index) {
  return static_cast<float>(random_bits(seed, index) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace fer
