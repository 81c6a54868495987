// Checkpoints: round trip, malformed and mismatched files, a toy CNN that learns, bit-identical
// resume after an interruption.
#include <filesystem>
#include <fstream>

#include "engine/checkpoint.h"
#include "engine/safetensors.h"
#include "tests/checkpoint/toy_cnn.h"
#include "tests/support/compare.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using fer::RandomStream;
using fer::Tensor;

namespace {

std::string scratch_file(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "fer_test_checkpoint";
  fs::create_directories(dir);
  return (dir / (name + ".safetensors")).string();
}

// A model, its optimizer and its random streams, as a trainer holds them.
struct ToyRun {
  RandomStream init, dropout, sampler;
  std::shared_ptr<fer::nn::Sequential> net;
  std::unique_ptr<fer::optim::Adam> adam;
  fer::optim::CosineLR schedule{0.02, 40, 0.002, 3};

  explicit ToyRun(uint64_t seed) : init(seed), dropout(seed + 1), sampler(seed + 2) {
    net = fer::test::make_toy_cnn(init, dropout);
    adam = std::make_unique<fer::optim::Adam>(net->parameters(), fer::optim::AdamOptions{.lr = 0.02});
  }
  fer::TrainingObjects objects() {
    return {{{"net", net.get()}}, {{"adam", adam.get()}}, {{"dropout", &dropout}, {"sampler", &sampler}}};
  }
  double step(const fer::test::ToyData& data, int64_t index) {
    schedule.apply(*adam, index);
    return fer::test::toy_train_step(*net, *adam, data, 16, sampler);
  }
};

void require_identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) {
    INFO(name);
    REQUIRE(t.to_vector_f64() == b.at(name).to_vector_f64());
  }
}

}  // namespace

TEST_CASE("checkpoint round trip restores modules, optimizers, random streams and progress", "[cpu]") {
  const auto data = fer::test::make_toy_data(4, 5);
  ToyRun a(1);
  for (int s = 0; s < 3; ++s) a.step(data, s);
  const std::string path = scratch_file("roundtrip");
  fer::save_checkpoint(path, a.objects(), {.step = 3, .epoch = 1, .extra = {{"note", "x"}, {"best", 0.5}}});

  ToyRun b(99);
  const fer::TrainingProgress progress = fer::load_checkpoint(path, b.objects());
  REQUIRE(progress.step == 3);
  REQUIRE(progress.epoch == 1);
  REQUIRE(progress.extra["note"] == "x");
  REQUIRE(progress.extra["best"] == 0.5);
  require_identical(a.net->state_dict(), b.net->state_dict());
  require_identical(a.adam->state_dict(), b.adam->state_dict());
  REQUIRE(b.sampler.offset() == a.sampler.offset());
  REQUIRE(b.sampler.seed() == a.sampler.seed());
  REQUIRE(b.dropout.offset() == a.dropout.offset());
  // Python-readable: the tensors are plain safetensors entries.
  REQUIRE(fer::load_safetensors(path).count("module.net.1.running_var") == 1);
}

TEST_CASE("checkpoint load of truncated, corrupted or mismatched files names file and tensor", "[cpu]") {
  ToyRun a(1);
  const std::string path = scratch_file("good");
  fer::save_checkpoint(path, a.objects(), {});
  const std::string bad = scratch_file("bad");
  const auto size = fs::file_size(path);

  SECTION("truncated data") {
    fs::copy_file(path, bad, fs::copy_options::overwrite_existing);
    fs::resize_file(bad, size - 100);
    ToyRun b(2);
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, b.objects()), Contains(bad) && Contains("truncated"));
    require_identical(b.net->state_dict(), ToyRun(2).net->state_dict());  // untouched
  }
  SECTION("corrupted header") {
    fs::copy_file(path, bad, fs::copy_options::overwrite_existing);
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("#", 1);  // the JSON header's opening brace
    f.close();
    ToyRun b(2);
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, b.objects()), Contains(bad) && Contains("JSON"));
  }
  SECTION("wrong model size names the tensor and both shapes") {
    RandomStream init(3);
    auto narrow = std::make_shared<fer::nn::Sequential>();
    narrow->push_back(std::make_shared<fer::nn::Conv2d>(1, 6, 3, init, fer::nn::ConvOptions{.padding = 1}));
    fer::save_checkpoint(bad, {{{"net", narrow.get()}}, {}, {}}, {});
    ToyRun b(2);
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, {{{"net", b.net.get()}}, {}, {}}),
                        Contains(bad) && Contains("'module.net.0.weight' has shape [6, 1, 3, 3] in the file, "
                                                  "[8, 1, 3, 3] in the model") &&
                            Contains("missing tensor 'module.net.1.running_mean'"));
  }
  SECTION("missing and unexpected objects") {
    ToyRun b(2);
    fer::TrainingObjects objects = b.objects();
    objects.optimizers.clear();
    REQUIRE_THROWS_WITH(fer::load_checkpoint(path, objects), Contains(path) && Contains("unexpected tensor 'optim.adam"));
    objects = b.objects();
    objects.random_streams["other"] = &b.init;
    REQUIRE_THROWS_WITH(fer::load_checkpoint(path, objects), Contains(path) && Contains("random stream 'other'"));
  }
  SECTION("weights made for something else: every difference of the context is named") {
    const nlohmann::json made_for = {{"image_size", 16}, {"classes", {"anger", "happiness"}}};
    fer::save_checkpoint(bad, a.objects(), {0, 0, made_for, {}});
    ToyRun b(2);
    const nlohmann::json here = {{"image_size", 32}, {"classes", {"anger", "happiness"}}, {"channels", 1}};
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, b.objects(), here),
                        Contains(bad) && Contains("made for something else") &&
                            Contains("image_size: 16 in the file, 32 here") &&
                            Contains("channels: not recorded in the file, 1 here") && !Contains("classes"));
    require_identical(b.net->state_dict(), ToyRun(2).net->state_dict());  // untouched
    fer::load_checkpoint(bad, b.objects(), made_for);
    require_identical(b.net->state_dict(), a.net->state_dict());
  }
  SECTION("NaN or Inf weights") {
    ToyRun broken(1);
    broken.net->state_dict().at("0.weight").data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
    fer::save_checkpoint(bad, broken.objects(), {});
    ToyRun b(2);
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, b.objects()),
                        Contains(bad) && Contains("'module.net.0.weight' holds nan at element 5"));
    require_identical(b.net->state_dict(), ToyRun(2).net->state_dict());  // untouched
  }
  SECTION("a safetensors file that is not a checkpoint") {
    fer::save_safetensors(bad, {{"x", Tensor::zeros({2})}});
    ToyRun b(2);
    REQUIRE_THROWS_WITH(fer::load_checkpoint(bad, b.objects()), Contains(bad) && Contains("not a fer checkpoint"));
  }
}

TEST_CASE("toy CNN (conv-bn-relu-pool-linear) learns 4 pattern classes to 100% training accuracy", "[cpu]") {
  const auto data = fer::test::make_toy_data(8, 11);
  ToyRun run(21);
  REQUIRE(fer::test::toy_accuracy(*run.net, data) < 0.9);
  double loss = 0;
  for (int s = 0; s < 40; ++s) loss = run.step(data, s);
  INFO("final minibatch loss " << loss);
  run.net->eval();
  REQUIRE(fer::test::toy_accuracy(*run.net, data) == 1.0);
}

TEST_CASE("checkpoint resume after an interruption ends bit-identical to an uninterrupted run", "[cpu]") {
  const auto data = fer::test::make_toy_data(8, 11);
  constexpr int kSteps = 12, kInterrupt = 5;
  ToyRun uninterrupted(21);
  std::vector<double> losses;
  for (int s = 0; s < kSteps; ++s) losses.push_back(uninterrupted.step(data, s));

  const std::string path = scratch_file("resume");
  {
    ToyRun first(21);
    for (int s = 0; s < kInterrupt; ++s) REQUIRE(first.step(data, s) == losses[static_cast<size_t>(s)]);
    fer::save_checkpoint(path, first.objects(), {.step = kInterrupt});
  }
  ToyRun resumed(777);  // a different initialization: everything must come from the checkpoint
  const fer::TrainingProgress progress = fer::load_checkpoint(path, resumed.objects());
  for (int64_t s = progress.step; s < kSteps; ++s) REQUIRE(resumed.step(data, s) == losses[static_cast<size_t>(s)]);
  require_identical(resumed.net->state_dict(), uninterrupted.net->state_dict());
  require_identical(resumed.adam->state_dict(), uninterrupted.adam->state_dict());
}
