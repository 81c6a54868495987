// SGD, Adam and the LR schedules: hand-computed steps, PyTorch fixtures, optimized vs reference.
#include <cmath>

#include "engine/nn/layers.h"
#include "engine/optim/average.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/safetensors.h"
#include "tests/support/compare.h"

using Catch::Matchers::Contains;
using fer::Tensor;

namespace {

Tensor leaf(const std::vector<float>& values, const fer::Shape& shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad();
  return t;
}

void set_grad(Tensor p, const Tensor& g) { p.mutable_grad() = g.clone(); }

// Runs `steps` steps of an optimizer made by `make` on the given parameter copies with fixed
// random gradients, and returns the final parameters.
template <typename Make>
std::vector<Tensor> run_steps(const std::vector<Tensor>& init, fer::DType dtype, int steps, const Make& make) {
  std::vector<Tensor> params;
  for (const Tensor& t : init) {
    params.push_back(t.to(dtype).clone());
    params.back().set_requires_grad();
  }
  auto optimizer = make(params);
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < params.size(); ++i) {
      // Parameter 1 gets no gradient on step 1: it must be skipped, not updated.
      if (i == 1 && s == 1) {
        params[i].zero_grad();
        continue;
      }
      set_grad(params[i], fer::test::random_tensor(params[i].shape(), 100 + 10 * s + i, -1, 1, dtype));
    }
    optimizer->step();
  }
  return params;
}

}  // namespace

TEST_CASE("sgd_update matches hand-computed momentum, Nesterov and weight decay steps", "[cpu]") {
  Tensor p = leaf({1.0f, -2.0f}, {2});
  fer::optim::SGD sgd({p}, {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1, .nesterov = false});
  set_grad(p, Tensor::from_vector(std::vector<float>{0.5f, 1.0f}, {2}));
  sgd.step();
  // g = grad + 0.1 p = {0.6, 0.8}; buf = g; p -= 0.1 buf
  REQUIRE_CLOSE(p, Tensor::from_vector(std::vector<float>{0.94f, -2.08f}, {2}), 1e-6, 1e-6);
  sgd.step();
  // g = {0.5 + 0.094, 1 - 0.208} = {0.594, 0.792}; buf = 0.5 {0.6, 0.8} + g = {0.894, 1.192}
  REQUIRE_CLOSE(p, Tensor::from_vector(std::vector<float>{0.94f - 0.0894f, -2.08f - 0.1192f}, {2}), 1e-6, 1e-6);

  Tensor q = leaf({1.0f}, {1});
  fer::optim::SGD nesterov({q}, {.lr = 0.1, .momentum = 0.5, .nesterov = true});
  set_grad(q, Tensor::scalar(2.0));
  nesterov.step();  // buf = 2; d = 2 + 0.5 * 2 = 3
  REQUIRE(q.item() == Approx(0.7).epsilon(1e-6));
}

TEST_CASE("adam_update first step moves each parameter by lr against its gradient's sign", "[cpu]") {
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps).
  Tensor p = leaf({1.0f, -2.0f, 0.5f}, {3});
  fer::optim::Adam adam({p}, {.lr = 0.01});
  set_grad(p, Tensor::from_vector(std::vector<float>{0.3f, -4.0f, 1e-3f}, {3}));
  adam.step();
  REQUIRE_CLOSE(p, Tensor::from_vector(std::vector<float>{0.99f, -1.99f, 0.49f}, {3}), 1e-6, 1e-5);
  const auto state = adam.state_dict();
  REQUIRE(state.at("0.step").item() == 1);
  REQUIRE_CLOSE(state.at("0.exp_avg"), Tensor::from_vector(std::vector<float>{0.03f, -0.4f, 1e-4f}, {3}), 1e-7, 1e-6);
}

TEST_CASE("adam_update and sgd_update match torch.optim over 3 steps (PyTorch fixture)", "[cpu]") {
  const auto fx = fer::load_safetensors(fer::test::fixture_path("optim.safetensors"));
  for (const std::string tag : {"adam", "sgd"}) {
    INFO(tag);
    std::vector<Tensor> params;
    for (const char* name : {"p0", "p1"}) params.push_back(fx.at(tag + ".init." + name).clone().set_requires_grad());
    std::unique_ptr<fer::optim::Optimizer> opt;
    if (tag == "adam") {
      opt = std::make_unique<fer::optim::Adam>(
          params, fer::optim::AdamOptions{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.05});
    } else {
      opt = std::make_unique<fer::optim::SGD>(
          params, fer::optim::SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
    }
    for (int step = 0; step < 3; ++step) {
      set_grad(params[0], fx.at(tag + ".grad" + std::to_string(step) + ".p0"));
      set_grad(params[1], fx.at(tag + ".grad" + std::to_string(step) + ".p1"));
      opt->step();
    }
    REQUIRE_CLOSE(params[0], fx.at(tag + ".final.p0"), 1e-6, 1e-5);
    REQUIRE_CLOSE(params[1], fx.at(tag + ".final.p1"), 1e-6, 1e-5);
    const auto state = opt->state_dict();
    for (const auto& [name, t] : fx) {
      const std::string prefix = tag + ".state.";
      if (name.rfind(prefix, 0) == 0) REQUIRE_CLOSE(state.at(name.substr(prefix.size())), t, 1e-7, 1e-5);
    }
  }
}

TEST_CASE("sgd_update and adam_update cpu match the reference, skipping parameters without gradient", "[cpu]") {
  // 70001 elements: more than one OpenMP range, not a multiple of any vector width.
  const std::vector<Tensor> init{fer::test::random_tensor({70001}, 1), fer::test::random_tensor({3, 7}, 2),
                                 fer::test::random_tensor({13}, 3)};
  auto adam = [](const std::vector<Tensor>& p) {
    return std::make_unique<fer::optim::Adam>(p, fer::optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1});
  };
  auto sgd = [](const std::vector<Tensor>& p) {
    return std::make_unique<fer::optim::SGD>(
        p, fer::optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  };
  const auto adam_cpu = run_steps(init, fer::DType::F32, 4, adam);
  const auto adam_ref = run_steps(init, fer::DType::F64, 4, adam);
  const auto sgd_cpu = run_steps(init, fer::DType::F32, 4, sgd);
  const auto sgd_ref = run_steps(init, fer::DType::F64, 4, sgd);
  for (size_t i = 0; i < init.size(); ++i) {
    REQUIRE_CLOSE(adam_cpu[i], adam_ref[i], 1e-5, 1e-4);
    REQUIRE_CLOSE(sgd_cpu[i], sgd_ref[i], 1e-5, 1e-4);
  }
}

TEST_CASE("Optimizer state_dict round trip continues identically; mismatches are named", "[cpu]") {
  const std::vector<Tensor> init{fer::test::random_tensor({5, 3}, 7), fer::test::random_tensor({9}, 8)};
  auto make = [](const std::vector<Tensor>& p) {
    return std::make_unique<fer::optim::Adam>(p, fer::optim::AdamOptions{.lr = 0.02});
  };
  const auto reference = run_steps(init, fer::DType::F32, 4, make);

  std::vector<Tensor> a{init[0].clone().set_requires_grad(), init[1].clone().set_requires_grad()};
  auto first = make(a);
  for (int s = 0; s < 4; ++s) {
    if (s == 2) {  // "resume": a new optimizer loads the state of the first
      auto second = make(a);
      second->load_state_dict(first->state_dict());
      first = std::move(second);
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (i == 1 && s == 1) {
        a[i].zero_grad();
        continue;
      }
      set_grad(a[i], fer::test::random_tensor(a[i].shape(), 100 + 10 * s + i));
    }
    first->step();
  }
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i].to_vector() == reference[i].to_vector());

  std::vector<Tensor> other{Tensor::zeros({5, 4}).set_requires_grad(), Tensor::zeros({9}).set_requires_grad()};
  auto wrong = make(other);
  REQUIRE_THROWS_WITH(wrong->load_state_dict(first->state_dict()),
                      Contains("0.exp_avg") && Contains("[5, 3]") && Contains("[5, 4]"));
  auto state = first->state_dict();
  state.erase("1.step");
  REQUIRE_THROWS_WITH(first->load_state_dict(state), Contains("missing '1.step'"));
}

TEST_CASE("StepLR and CosineLR give the documented rates", "[cpu]") {
  const fer::optim::StepLR step(0.1, 3, 0.5);
  REQUIRE(step.lr_at(0) == 0.1);
  REQUIRE(step.lr_at(2) == 0.1);
  REQUIRE(step.lr_at(3) == Approx(0.05));
  REQUIRE(step.lr_at(7) == Approx(0.025));

  const fer::optim::CosineLR cosine(1.0, 12, 0.1, 2);
  REQUIRE(cosine.lr_at(0) == Approx(0.5));
  REQUIRE(cosine.lr_at(1) == Approx(1.0));
  REQUIRE(cosine.lr_at(2) == Approx(1.0));
  REQUIRE(cosine.lr_at(7) == Approx(0.1 + 0.9 * 0.5));
  REQUIRE(cosine.lr_at(12) == Approx(0.1));
  REQUIRE(cosine.lr_at(100) == Approx(0.1));

  Tensor p = leaf({1.0f}, {1});
  fer::optim::SGD sgd({p}, {.lr = 1});
  cosine.apply(sgd, 7);
  REQUIRE(sgd.lr() == Approx(0.55));
  REQUIRE_THROWS_WITH(fer::optim::CosineLR(1.0, 2, 0, 2), Contains("warmup_steps (2) < total_steps (2)"));
}

TEST_CASE("update_average moves parameters and buffers toward the source by 1 - decay", "[cpu]") {
  fer::nn::BatchNorm1d source(2), average(2);
  source.weight.copy_from(Tensor::from_vector(std::vector<float>{1.0f, 3.0f}, {2}));
  source.running_mean.copy_from(Tensor::from_vector(std::vector<float>{2.0f, -4.0f}, {2}));
  average.weight.copy_from(Tensor::from_vector(std::vector<float>{5.0f, -1.0f}, {2}));
  fer::optim::update_average(average, source, 0.75);
  // 0.75 * average + 0.25 * source
  REQUIRE(average.weight.to_vector() == std::vector<float>{4.0f, 0.0f});
  REQUIRE(average.running_mean.to_vector() == std::vector<float>{0.5f, -1.0f});
  REQUIRE(average.running_var.to_vector() == std::vector<float>{1.0f, 1.0f});  // both 1
  REQUIRE(source.weight.to_vector() == std::vector<float>{1.0f, 3.0f});       // the source stays
  fer::optim::update_average(average, source, 0);
  REQUIRE(average.weight.to_vector() == std::vector<float>{1.0f, 3.0f});

  fer::nn::BatchNorm1d wider(3);
  REQUIRE_THROWS_WITH(fer::optim::update_average(wider, source, 0.5), Contains("weight") && Contains("[3]"));
  REQUIRE_THROWS_WITH(fer::optim::update_average(average, source, 1.5), Contains("decay 1.5"));
}

TEST_CASE("warmed_up_decay rises as (1 + t) / (10 + t) up to the decay", "[cpu]") {
  REQUIRE(fer::optim::warmed_up_decay(0.999, 0) == Approx(0.1));
  REQUIRE(fer::optim::warmed_up_decay(0.999, 8) == Approx(0.5));
  REQUIRE(fer::optim::warmed_up_decay(0.99, 890) == Approx(0.99));   // (891 / 900) = 0.99
  REQUIRE(fer::optim::warmed_up_decay(0.99, 100000) == 0.99);
}
