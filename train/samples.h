// Image grids of generated faces: rows are identities, columns expressions (docs/design.md
// "The method", issue 5).
#pragma once
#include <vector>

#include "data/image.h"
#include "models/fesgan.h"

namespace fer::train {

// Splits a [N, C, S, S] batch (any device) into N 8-bit images.
std::vector<data::Image> to_images(const Tensor& batch);

// G(code_r, k) for every row r of codes [R, d] and every expression k < classes, in row-major
// order [R * classes, C, S, S]. No autograd; G should be in eval mode.
Tensor expression_sweep(models::Decoder& G, const Tensor& codes, int64_t classes);

// Codes [n, d] drawn from the prior U(-1, 1)^d with a fixed seed (the same rows every epoch).
Tensor prior_codes(int64_t n, int64_t latent, uint64_t seed, Device device);

}  // namespace fer::train
