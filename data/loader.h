// The batch loader: background threads decode and augment the batches ahead of the training
// loop and hand them out as tensors.
//
// Batches: images float32 [B, C, S, S] in [-1, 1] (NCHW), labels float32 [B] of class indices,
// and the dataset indices of the samples. Order: the given indices, shuffled per epoch by a
// seeded permutation; batch b of epoch e always holds the same samples with the same
// augmentation, whatever the thread timing, because its content is a pure function of
// (seed, e, b). Threads: `workers` std::threads each build whole batches (decode from the
// dataset's cache or from disk, convert, augment); at most `prefetch` batches wait ready.
// Devices: for cpu the batches are ordinary tensors. For cuda and cuda-sim the workers build
// each batch in a pinned host buffer (Storage::pinned) taken from a ring of prefetch + 1 buffers
// allocated once: up to `prefetch` batches being built or waiting, plus the one whose
// host-to-device copy may still be in flight. next(), on the caller's thread, starts the copy of
// its batch without waiting (Tensor::to_async) and returns to the ring the buffer of the batch
// before, after waiting for that buffer's copy (an event, not the whole stream): so every CUDA
// call stays on the caller's thread, and a buffer is never refilled while the stream may read it.
// The dataset must outlive the loader.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
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
  // A pinned buffer for one batch's images and one for its labels.
  struct PinnedSlot {
    std::shared_ptr<Storage> images, labels;
  };

  void stop();
  void work();
  bool pinned() const { return options_.device != Device::CPU; }
  Batch build(int64_t b, const PinnedSlot* slot) const;
  // Starts the device copy of a batch built in a pinned slot and recycles the previous slot.
  void copy_to_device(Batch& batch);

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

  std::vector<PinnedSlot> slots_;       // the ring, empty for cpu
  std::vector<PinnedSlot> free_slots_;  // guarded by mutex_
  PinnedSlot in_flight_;                // caller's thread only; its copy may not have run yet
};

}  // namespace fer::data
