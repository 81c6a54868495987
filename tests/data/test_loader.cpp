#include <catch2/catch.hpp>
#include <set>

#include "data/augment.h"
#include "data/loader.h"
#include "tests/support/devices.h"

using fer::data::AugmentOptions;
using fer::data::Batch;
using fer::data::BatchLoader;
using fer::data::LoaderOptions;

namespace {

// n samples of 7x7 gray images whose pixels encode the sample index, labels i % 3, all cached.
fer::data::Dataset toy_dataset(int n, int size = 7) {
  fer::data::Dataset ds;
  ds.class_names = {"anger", "happiness", "sadness"};
  ds.size = size;
  ds.channels = 1;
  for (int i = 0; i < n; ++i) {
    fer::data::Sample s;
    s.label = i % 3;
    s.pixels.resize(static_cast<size_t>(size) * size);
    for (size_t p = 0; p < s.pixels.size(); ++p) s.pixels[p] = static_cast<uint8_t>((i * 11 + p * 5) % 256);
    ds.samples.push_back(std::move(s));
  }
  return ds;
}

std::vector<int64_t> iota(int n) {
  std::vector<int64_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

std::vector<Batch> one_epoch(BatchLoader& loader, uint64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  Batch b;
  while (loader.next(b)) batches.push_back(b);
  return batches;
}

std::vector<float> gradient_image(int size) {
  std::vector<float> v(static_cast<size_t>(size) * size);
  for (size_t i = 0; i < v.size(); ++i) v[i] = -1.0f + 2.0f * static_cast<float>(i) / static_cast<float>(v.size());
  return v;
}

}  // namespace

TEST_CASE("augment_image: deterministic per seed, epoch and sample", "[cpu][data]") {
  const int size = 13;
  const std::vector<float> in = gradient_image(size);
  std::vector<float> a(in.size()), b(in.size()), c(in.size()), d(in.size());
  const AugmentOptions o;
  fer::data::augment_image(in.data(), a.data(), 1, size, o, 5, 2, 17);
  fer::data::augment_image(in.data(), b.data(), 1, size, o, 5, 2, 17);
  fer::data::augment_image(in.data(), c.data(), 1, size, o, 5, 3, 17);
  fer::data::augment_image(in.data(), d.data(), 1, size, o, 5, 2, 18);
  REQUIRE(a == b);
  REQUIRE(a != c);
  REQUIRE(a != d);
  for (float v : a) REQUIRE((v >= -1.0f && v <= 1.0f));
}

TEST_CASE("augment_image: no jitter is the identity; flip alone mirrors", "[cpu][data]") {
  const int size = 9;
  const std::vector<float> in = gradient_image(size);
  AugmentOptions none{0, 0, false, 0, 0, 0};
  std::vector<float> out(in.size());
  fer::data::augment_image(in.data(), out.data(), 1, size, none, 1, 0, 0);
  for (size_t i = 0; i < in.size(); ++i) REQUIRE(out[i] == Approx(in[i]).margin(1e-6));
  none.flip = true;
  int flipped = 0;
  for (uint64_t sample = 0; sample < 16; ++sample) {
    fer::data::augment_image(in.data(), out.data(), 1, size, none, 1, 0, sample);
    const bool mirrored = out[0] == Approx(in[size - 1]).margin(1e-6) && out[size - 1] == Approx(in[0]).margin(1e-6);
    if (!mirrored) REQUIRE(out[0] == Approx(in[0]).margin(1e-6));
    flipped += mirrored;
  }
  REQUIRE(flipped > 0);
  REQUIRE(flipped < 16);
}

TEST_CASE("BatchLoader: every sample once per epoch, tensors and labels match the dataset", "[cpu][data]") {
  const fer::data::Dataset ds = toy_dataset(23);
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 3;
  o.prefetch = 2;
  BatchLoader loader(ds, iota(23), o);
  REQUIRE(loader.batches_per_epoch() == 5);
  const std::vector<Batch> batches = one_epoch(loader, 0);
  REQUIRE(batches.size() == 5);
  REQUIRE(batches.back().images.shape() == fer::Shape{3, 1, 7, 7});
  std::multiset<int64_t> seen;
  for (const Batch& b : batches) {
    REQUIRE(b.images.shape()[0] == static_cast<int64_t>(b.indices.size()));
    const std::vector<float> labels = b.labels.to_vector();
    const std::vector<float> images = b.images.to_vector();
    for (size_t k = 0; k < b.indices.size(); ++k) {
      seen.insert(b.indices[k]);
      REQUIRE(labels[k] == static_cast<float>(b.indices[k] % 3));
      const std::vector<float> expect = fer::data::image_to_tensor(ds.image(b.indices[k])).to_vector();
      REQUIRE(std::equal(expect.begin(), expect.end(), images.begin() + static_cast<int64_t>(k * 49)));
    }
  }
  const std::vector<int64_t> all = iota(23);
  REQUIRE(seen == std::multiset<int64_t>(all.begin(), all.end()));
  Batch extra;
  REQUIRE_FALSE(loader.next(extra));
}

TEST_CASE("BatchLoader: order and augmentation depend on seed and epoch only, not on threads", "[cpu][data]") {
  const fer::data::Dataset ds = toy_dataset(31);
  LoaderOptions o;
  o.batch_size = 4;
  o.augment = true;
  o.seed = 9;
  o.workers = 1;
  BatchLoader single(ds, iota(31), o);
  o.workers = 4;
  o.prefetch = 3;
  BatchLoader many(ds, iota(31), o);
  const std::vector<Batch> a = one_epoch(single, 1), b = one_epoch(many, 1), c = one_epoch(many, 2);
  REQUIRE(a.size() == b.size());
  bool order_differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].indices == b[i].indices);
    REQUIRE(a[i].images.to_vector() == b[i].images.to_vector());
    order_differs |= a[i].indices != c[i].indices;
  }
  REQUIRE(order_differs);
}

TEST_CASE("BatchLoader: drop_last, no shuffle, and worker errors reach the caller", "[cpu][data]") {
  fer::data::Dataset ds = toy_dataset(10);
  LoaderOptions o;
  o.batch_size = 4;
  o.drop_last = true;
  o.shuffle = false;
  BatchLoader loader(ds, iota(10), o);
  const std::vector<Batch> batches = one_epoch(loader, 0);
  REQUIRE(batches.size() == 2);
  REQUIRE(batches[1].indices == std::vector<int64_t>{4, 5, 6, 7});

  ds.samples[6].pixels.clear();  // not cached: the loader reads the (missing) file
  ds.samples[6].path = "/nonexistent/fer_loader_missing.png";
  BatchLoader failing(ds, iota(10), o);
  failing.start_epoch(0);
  Batch b;
  REQUIRE(failing.next(b));
  REQUIRE_THROWS_WITH(failing.next(b), Catch::Contains("fer_loader_missing.png"));
  REQUIRE_THROWS_WITH(BatchLoader(ds, {0, 10}, o), Catch::Contains("index 10"));
}

FER_CUDA_TEST_CASE("BatchLoader: device batches, staged in a reused ring of pinned buffers, equal the cpu batches", "[data]") {
  const fer::data::Dataset ds = toy_dataset(29);
  LoaderOptions o;
  o.batch_size = 4;  // 8 batches, the last of 1 sample
  o.augment = true;
  o.seed = 3;
  o.workers = 3;
  o.prefetch = 2;
  BatchLoader cpu(ds, iota(29), o);
  o.device = device;
  const int64_t pinned_before = fer::Storage::pinned_created();
  BatchLoader dev(ds, iota(29), o);
  const int64_t ring = 2 * (o.prefetch + 1);  // an images and a labels buffer per slot
  REQUIRE(fer::Storage::pinned_created() - pinned_before == ring);
  for (uint64_t epoch = 0; epoch < 3; ++epoch) {
    INFO("epoch " << epoch);
    const std::vector<Batch> want = one_epoch(cpu, epoch), got = one_epoch(dev, epoch);
    REQUIRE(got.size() == 8);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      REQUIRE(got[i].images.device() == device);
      REQUIRE(got[i].labels.device() == device);
      REQUIRE(got[i].indices == want[i].indices);
      REQUIRE(got[i].images.shape() == want[i].images.shape());
      REQUIRE(got[i].images.to_vector() == want[i].images.to_vector());
      REQUIRE(got[i].labels.to_vector() == want[i].labels.to_vector());
    }
  }
  REQUIRE(fer::Storage::pinned_created() - pinned_before == ring);  // none per batch or epoch
}

FER_CUDA_TEST_CASE("BatchLoader: a one-slot prefetch with one worker and an interrupted epoch still deliver", "[data]") {
  const fer::data::Dataset ds = toy_dataset(10);
  LoaderOptions o;
  o.batch_size = 3;
  o.shuffle = false;
  o.workers = 1;
  o.prefetch = 1;
  o.device = device;
  BatchLoader loader(ds, iota(10), o);
  loader.start_epoch(0);
  Batch b;
  REQUIRE(loader.next(b));  // epoch 0 is left with one batch in flight and one being built
  const std::vector<Batch> batches = one_epoch(loader, 1);
  REQUIRE(batches.size() == 4);
  REQUIRE(batches[3].indices == std::vector<int64_t>{9});
  const std::vector<float> labels = batches[1].labels.to_vector();
  REQUIRE(labels == std::vector<float>{0, 1, 2});  // samples 3, 4, 5
}

FER_CUDA_TEST_CASE("Tensor::to_async copies pinned tensors and rejects others", "[data]") {
  const std::shared_ptr<fer::Storage> storage = fer::Storage::pinned(6 * sizeof(float), device);
  REQUIRE(storage->device() == fer::Device::CPU);
  REQUIRE(storage->pinned_for() == device);
  fer::Tensor host = fer::Tensor::from_storage(storage, {5});  // a smaller tensor in a larger buffer
  for (int i = 0; i < 5; ++i) host.data<float>()[i] = static_cast<float>(i) * 0.5f;
  const fer::Tensor copy = host.to_async(device);
  storage->wait_for_copies();
  REQUIRE(copy.device() == device);
  REQUIRE(copy.to_vector() == std::vector<float>{0, 0.5f, 1, 1.5f, 2});
  REQUIRE_THROWS_WITH(fer::Tensor::empty({3}).to_async(device), Catch::Contains("not in pinned memory"));
  REQUIRE_THROWS_WITH(fer::Tensor::from_storage(storage, {7}), Catch::Contains("needs 28 bytes, the storage has 24"));
}
