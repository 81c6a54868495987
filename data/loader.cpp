// The batch loader. See loader.h for the ordering and threading rules.
#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/common/random.h"

namespace fer::data {

BatchLoader::BatchLoader(const Dataset& dataset, std::vector<int64_t> indices, LoaderOptions options)
    : dataset_(dataset), indices_(std::move(indices)), options_(options) {
  FER_CHECK(options_.batch_size > 0 && options_.workers > 0 && options_.prefetch > 0)
      << "BatchLoader: batch_size, workers and prefetch must be positive, got " << options_.batch_size << ", "
      << options_.workers << ", " << options_.prefetch;
  for (int64_t i : indices_)
    FER_CHECK(i >= 0 && i < static_cast<int64_t>(dataset_.samples.size()))
        << "BatchLoader: sample index " << i << " out of range for a dataset of " << dataset_.samples.size();
  if (pinned()) {
    const size_t image_bytes = sizeof(float) * dataset_.channels * dataset_.size * dataset_.size;
    for (int i = 0; i <= options_.prefetch; ++i)
      slots_.push_back({Storage::pinned(options_.batch_size * image_bytes, options_.device),
                        Storage::pinned(options_.batch_size * sizeof(float), options_.device)});
  }
}

BatchLoader::~BatchLoader() { stop(); }

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(indices_.size()), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void BatchLoader::start_epoch(uint64_t epoch) {
  stop();
  if (in_flight_.images) {
    in_flight_.images->wait_for_copies();
    in_flight_.labels->wait_for_copies();
    in_flight_ = {};
  }
  free_slots_ = slots_;
  epoch_ = epoch;
  order_ = indices_;
  if (options_.shuffle) {  // Fisher-Yates on the counter-based generator keyed by (seed, epoch)
    const uint64_t key = mix64(mix64(options_.seed) ^ epoch);
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[random_bits(key, i) % i]);
  }
  next_to_build_ = next_to_hand_out_ = 0;
  ready_.clear();
  failed_.clear();
  stopping_ = false;
  for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { work(); });
}

void BatchLoader::work() {
  const int64_t total = batches_per_epoch();
  while (true) {
    int64_t b;
    PinnedSlot slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || next_to_build_ >= total ||
               (next_to_build_ < next_to_hand_out_ + options_.prefetch && (!pinned() || !free_slots_.empty()));
      });
      if (stopping_ || next_to_build_ >= total) return;
      b = next_to_build_++;
      if (pinned()) {
        slot = std::move(free_slots_.back());
        free_slots_.pop_back();
      }
    }
    try {
      Batch batch = build(b, pinned() ? &slot : nullptr);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(b, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      failed_.emplace(b, std::current_exception());
      if (pinned()) free_slots_.push_back(std::move(slot));
    }
    changed_.notify_all();
  }
}

Batch BatchLoader::build(int64_t b, const PinnedSlot* slot) const {
  const int64_t first = b * options_.batch_size;
  const int64_t count = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(order_.size()) - first);
  const int c = dataset_.channels, s = dataset_.size;
  const size_t image_floats = static_cast<size_t>(c) * s * s;
  Batch batch;
  batch.indices.assign(order_.begin() + first, order_.begin() + first + count);
  batch.images = slot ? Tensor::from_storage(slot->images, {count, c, s, s}) : Tensor::empty({count, c, s, s});
  batch.labels = slot ? Tensor::from_storage(slot->labels, {count}) : Tensor::empty({count});
  std::vector<float> plain(image_floats);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = batch.indices[k];
    float* dst = batch.images.data<float>() + k * image_floats;
    image_to_chw(dataset_.image(index), options_.augment ? plain.data() : dst);
    if (options_.augment)
      augment_image(plain.data(), dst, c, s, options_.augment_options, options_.seed, epoch_, static_cast<uint64_t>(index));
    batch.labels.data<float>()[k] = static_cast<float>(dataset_.samples[index].label);
  }
  return batch;
}

bool BatchLoader::next(Batch& batch) {
  FER_CHECK(!workers_.empty() || next_to_hand_out_ >= batches_per_epoch()) << "BatchLoader::next: call start_epoch first";
  if (next_to_hand_out_ >= batches_per_epoch()) return false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return failed_.count(next_to_hand_out_) > 0 || ready_.count(next_to_hand_out_) > 0; });
    if (const auto failed = failed_.find(next_to_hand_out_); failed != failed_.end()) std::rethrow_exception(failed->second);
    auto it = ready_.find(next_to_hand_out_);
    batch = std::move(it->second);
    ready_.erase(it);
    ++next_to_hand_out_;
  }
  if (pinned()) copy_to_device(batch);
  changed_.notify_all();
  return true;
}

void BatchLoader::copy_to_device(Batch& batch) {
  // The slot becomes the one in flight before its copies start, so that a failing copy still
  // leaves it to be recycled by the next call or start_epoch.
  PinnedSlot done = std::exchange(in_flight_, PinnedSlot{batch.images.impl()->storage, batch.labels.impl()->storage});
  if (done.images) {
    done.images->wait_for_copies();
    done.labels->wait_for_copies();
    std::lock_guard<std::mutex> lock(mutex_);
    free_slots_.push_back(std::move(done));
  }
  batch.images = batch.images.to_async(options_.device);
  batch.labels = batch.labels.to_async(options_.device);
}

}  // namespace fer::data
