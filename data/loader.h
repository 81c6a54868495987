// The batch loader: background threads decode and augment the batches ahead of the training
// loop and hand them out as tensors.
//
// Batches: images float32 [B, C, S, S] in [-1, 1] (NCHW), labels float32 [B] of class indices,
// and the dataset indices of the samples. Order: the given indices, shuffled per epoch by a
// seeded permutation; batch b of epoch e always holds the same samples with the same
// augmentation, whatever the thread timing, because its content is a pure function of
// (seed, e, b). Threads: `workers` std::threads each build whole batches (decode from the
// dataset's cache or from disk, convert, augment); at most `prefetch` batches wait ready.
// Device copies happen on the caller's thread in next(), after the batch is complete.
// The dataset must outlive the loader.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "engine/tensor.h"

namespace fer::data {

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;   // drop a last, smaller batch
  bool augment = false;     // on for training, off for evaluation
  AugmentOptions augment_options;
  uint64_t seed = 0;
  int workers = 2;
  int prefetch = 4;
  Device device = Device::CPU;
};

struct Batch {
  Tensor images;
  Tensor labels;
  std::vector<int64_t> indices;
};

class BatchLoader {
 public:
  BatchLoader(const Dataset& dataset, std::vector<int64_t> indices, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts producing the batches of `epoch` (stopping any epoch in progress).
  void start_epoch(uint64_t epoch);
  // The next batch of the current epoch; false when the epoch is over. Rethrows the error met
  // while building this batch (earlier batches are handed out first).
  bool next(Batch& batch);
  int64_t batches_per_epoch() const;

 private:
  void stop();
  void work();
  Batch build(int64_t b) const;

  const Dataset& dataset_;
  std::vector<int64_t> indices_;
  LoaderOptions options_;
  uint64_t epoch_ = 0;
  std::vector<int64_t> order_;  // this epoch's permutation of indices_

  std::mutex mutex_;
  std::condition_variable changed_;
  int64_t next_to_build_ = 0;
  int64_t next_to_hand_out_ = 0;
  bool stopping_ = false;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;  // raised when that batch's turn comes
  std::vector<std::thread> workers_;
};

}  // namespace fer::data
