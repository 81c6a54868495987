// Images held in memory as one tensor, and the batches drawn from them.
//
// The datasets of the method are small (thousands of faces), so every split is decoded once into
// a float32 [N, C, S, S] cpu tensor; a batch copies its rows and moves them to the device.
// Shuffling is a pure function of (seed, stage, epoch): a resumed run draws the same batches.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace fer::train {

struct ImageSet {
  Tensor images;                 // [N, C, S, S] float32 cpu, values in [-1, 1]
  std::vector<float> labels;     // class indices
  std::vector<int64_t> subjects; // dense subject indices of this set (0..num_subjects-1)
  int64_t num_subjects = 0;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Samples `indices` of the dataset; subjects are renumbered densely in order of appearance.
ImageSet make_image_set(const data::Dataset& dataset, const std::vector<int64_t>& indices);

struct Batch {
  Tensor images;    // [B, C, S, S] on the device
  Tensor labels;    // [B] class indices
  Tensor subjects;  // [B] subject indices (for the identity network)
};

// How the real images of a training batch are augmented (data/augment.h): image i of the batch
// draws its transform from (seed, counter, i), so a batch is a pure function of its rows and key.
struct BatchAugmentation {
  data::AugmentOptions options;
  uint64_t seed = 0;
  uint64_t counter = 0;
};

// Rows `rows` of the set, unchanged (augment null: evaluation) or augmented.
Batch make_batch(const ImageSet& set, const std::vector<int64_t>& rows, Device device,
                 const BatchAugmentation* augment = nullptr);

// Order of the rows in epoch `epoch` of a stage; drop-last batches of `batch_size`.
std::vector<std::vector<int64_t>> epoch_batches(int64_t rows, int64_t batch_size, uint64_t seed,
                                                const std::string& stage, int64_t epoch);

// Fisher-Yates permutation of 0..n-1 from rng.
std::vector<int64_t> permutation(int64_t n, RandomStream& rng);

}  // namespace fer::train
