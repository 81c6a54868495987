#include "train/imageset.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

namespace fer::train {

ImageSet make_image_set(const data::Dataset& dataset, const std::vector<int64_t>& indices) {
  ImageSet set;
  const int64_t n = static_cast<int64_t>(indices.size());
  const int64_t plane = static_cast<int64_t>(dataset.channels) * dataset.size * dataset.size;
  set.images = Tensor::empty({n, dataset.channels, dataset.size, dataset.size});
  std::map<std::string, int64_t> subject_index;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = indices[static_cast<size_t>(i)];
    data::image_to_chw(dataset.image(at), set.images.data<float>() + i * plane);
    const data::Sample& sample = dataset.samples[static_cast<size_t>(at)];
    set.labels.push_back(static_cast<float>(sample.label));
    auto [it, added] = subject_index.try_emplace(sample.subject, static_cast<int64_t>(subject_index.size()));
    set.subjects.push_back(it->second);
  }
  set.num_subjects = static_cast<int64_t>(subject_index.size());
  return set;
}

Batch make_batch(const ImageSet& set, const std::vector<int64_t>& rows, Device device,
                 const BatchAugmentation* augment) {
  const Shape& shape = set.images.shape();
  const int64_t b = static_cast<int64_t>(rows.size());
  const int64_t plane = shape[1] * shape[2] * shape[3];
  Tensor images = Tensor::empty({b, shape[1], shape[2], shape[3]});
  std::vector<float> labels, subjects;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t r = rows[static_cast<size_t>(i)];
    const float* src = set.images.data<float>() + r * plane;
    float* dst = images.data<float>() + i * plane;
    if (augment) {
      data::augment_image(src, dst, static_cast<int>(shape[1]), static_cast<int>(shape[3]), augment->options,
                          augment->seed, augment->counter, static_cast<uint64_t>(i));
    } else {
      std::memcpy(dst, src, static_cast<size_t>(plane) * sizeof(float));
    }
    labels.push_back(set.labels[static_cast<size_t>(r)]);
    subjects.push_back(static_cast<float>(set.subjects[static_cast<size_t>(r)]));
  }
  return {images.to(device), Tensor::from_vector(labels, {b}, device), Tensor::from_vector(subjects, {b}, device)};
}

std::vector<int64_t> permutation(int64_t n, RandomStream& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.randint(i + 1))]);
  return order;
}

std::vector<std::vector<int64_t>> epoch_batches(int64_t rows, int64_t batch_size, uint64_t seed,
                                                const std::string& stage, int64_t epoch) {
  RandomStream rng(seed ^ (std::hash<std::string>{}(stage) + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1)));
  const std::vector<int64_t> order = permutation(rows, rng);
  std::vector<std::vector<int64_t>> batches;
  const int64_t size = std::min(batch_size, rows);
  for (int64_t start = 0; size >= 2 && start + size <= rows; start += size)
    batches.emplace_back(order.begin() + start, order.begin() + start + size);
  return batches;
}

}  // namespace fer::train
