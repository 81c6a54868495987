// intra_class_loss (RDBP and naive modes): gradients against finite differences where the rule is a
// true gradient, against the exact RDBP formula where it is not, the naive loss against the same
// loss composed from ordinary ops, the running-center rules, and the CPU path against the reference.
#include <cmath>
#include <vector>

#include "engine/ops.h"
#include "engine/ops/rdbp.h"
#include "tests/support/compare.h"

using namespace fer;

namespace {

Tensor labels(const std::vector<float>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

// Fresh zeroed buffers: no class seen yet.
struct Buffers {
  Tensor centers, seen;
  Buffers(int64_t classes, int64_t dim, DType dtype = DType::F64)
      : centers(Tensor::zeros({classes, dim}, dtype)), seen(Tensor::zeros({classes}, dtype)) {}
};

IntraClassOptions options(RdbpMode mode, bool update = true) {
  IntraClassOptions o;
  o.mode = mode;
  o.update_running = update;
  return o;
}

// Batch mean of the rows of `x` [n, dim] whose label is k.
std::vector<double> class_mean(const Tensor& x, const std::vector<float>& y, int64_t k) {
  const int64_t dim = x.size(1);
  const std::vector<double> v = x.to_vector_f64();
  std::vector<double> mean(static_cast<size_t>(dim), 0.0);
  double n = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] != static_cast<float>(k)) continue;
    n += 1;
    for (int64_t d = 0; d < dim; ++d) mean[static_cast<size_t>(d)] += v[i * static_cast<size_t>(dim) + static_cast<size_t>(d)];
  }
  for (double& m : mean) m /= n;
  return mean;
}

// Expected gradient rows (x_i - c_{y_i}) * scale given per-class centers (empty: no center).
Tensor expected_grad(const Tensor& x, const std::vector<float>& y, const std::vector<std::vector<double>>& centers,
                     double scale) {
  const int64_t dim = x.size(1);
  std::vector<double> v = x.to_vector_f64();
  for (size_t i = 0; i < y.size(); ++i) {
    const auto& c = centers[static_cast<size_t>(y[i])];
    for (int64_t d = 0; d < dim; ++d) {
      double& e = v[i * static_cast<size_t>(dim) + static_cast<size_t>(d)];
      e = c.empty() ? 0.0 : scale * (e - c[static_cast<size_t>(d)]);
    }
  }
  return Tensor::from_vector(v, x.shape());
}

const std::vector<float> kRealLabels = {0, 1, 0, 2, 1, 0, 2};  // 7 real samples, classes 0..2
const std::vector<float> kSynthLabels = {1, 3, 0, 3, 2};        // class 3: synthetic only

}  // namespace

TEST_CASE("intra_class_loss naive mode matches finite differences", "[cpu]") {
  const Tensor f = test::random_tensor({7, 5}, 1, -1, 1, DType::F64).set_requires_grad();
  const Tensor s = test::random_tensor({5, 5}, 2, -1, 1, DType::F64).set_requires_grad();
  auto loss = [](const std::vector<Tensor>& in) {
    Buffers b(4, 5);
    return intra_class_loss(in[0], labels(kRealLabels), in[1], labels(kSynthLabels), b.centers, b.seen,
                            options(RdbpMode::Naive));
  };
  REQUIRE_GRADCHECK(loss, {f, s});
}

TEST_CASE("intra_class_loss rdbp mode without synthetic terms matches finite differences", "[cpu]") {
  const Tensor f = test::random_tensor({7, 3}, 3, -1, 1, DType::F64).set_requires_grad();
  auto loss = [](const std::vector<Tensor>& in) {
    Buffers b(3, 3);
    return intra_class_loss(in[0], labels(kRealLabels), Tensor(), Tensor(), b.centers, b.seen);
  };
  REQUIRE_GRADCHECK(loss, {f});
}

TEST_CASE("intra_class_loss rdbp gradients follow the RDBP formula", "[cpu]") {
  Tensor f = test::random_tensor({7, 5}, 4, -1, 1, DType::F64).set_requires_grad();
  Tensor s = test::random_tensor({5, 5}, 5, -1, 1, DType::F64).set_requires_grad();
  Buffers b(5, 5);  // class 3: synthetic only, never seen -> skipped; class 4: unused
  const Tensor loss = intra_class_loss(f, labels(kRealLabels), s, labels(kSynthLabels), b.centers, b.seen);
  loss.backward(Tensor::scalar(2.0, DType::F64));

  std::vector<std::vector<double>> centers;
  for (int64_t k = 0; k < 3; ++k) centers.push_back(class_mean(f, kRealLabels, k));
  centers.resize(5);  // classes 3 and 4 have no center
  const double terms = 7 + 3;  // the two class-3 synthetic terms are skipped
  REQUIRE_CLOSE(f.grad(), expected_grad(f, kRealLabels, centers, 2.0 / terms), 1e-12, 1e-12);
  REQUIRE_CLOSE(s.grad(), expected_grad(s, kSynthLabels, centers, 2.0 / terms), 1e-12, 1e-12);

  double expected_loss = 0;
  for (const auto& [x, y] : {std::pair{f, kRealLabels}, std::pair{s, kSynthLabels}}) {
    const std::vector<double> g = expected_grad(x, y, centers, 1.0).to_vector_f64();
    for (double e : g) expected_loss += e * e;
  }
  REQUIRE(loss.item() == Approx(expected_loss / (2 * terms)).epsilon(1e-12));
}

TEST_CASE("intra_class_loss rdbp sends no synthetic gradient to the real features", "[cpu]") {
  // The real features' gradient must not depend on the synthetic features at all (only on N).
  auto real_grad = [](uint64_t synth_seed) {
    Tensor f = test::random_tensor({7, 4}, 6, -1, 1, DType::F64).set_requires_grad();
    Tensor s = test::random_tensor({5, 4}, synth_seed, -3, 3, DType::F64).set_requires_grad();
    Buffers b(4, 4);
    intra_class_loss(f, labels(kRealLabels), s, labels({0, 1, 2, 0, 1}), b.centers, b.seen).backward();
    return f.grad().clone();
  };
  const Tensor a = real_grad(7), b = real_grad(8);
  REQUIRE_CLOSE(a, b, 0, 0);
  // In naive mode the synthetic features do move the real gradients (through the centers).
  Tensor f = test::random_tensor({7, 4}, 6, -1, 1, DType::F64).set_requires_grad();
  Tensor s = test::random_tensor({5, 4}, 7, -3, 3, DType::F64);
  Buffers buffers(4, 4);
  intra_class_loss(f, labels(kRealLabels), s, labels({0, 1, 2, 0, 1}), buffers.centers, buffers.seen,
                   options(RdbpMode::Naive))
      .backward();
  REQUIRE_FALSE(test::compare(f.grad(), a, 1e-6, 0).ok);
}

TEST_CASE("intra_class_loss naive mode equals the loss composed from ordinary ops", "[cpu]") {
  // Every class has a sample, so c = M [f; s] with M the [K, Nr+Ns] class-averaging matrix.
  const std::vector<float> synth_labels = {1, 3, 0, 3, 2};
  Tensor f1 = test::random_tensor({7, 6}, 9, -1, 1, DType::F64).set_requires_grad();
  Tensor s1 = test::random_tensor({5, 6}, 10, -1, 1, DType::F64).set_requires_grad();
  Tensor f2 = f1.clone().set_requires_grad(), s2 = s1.clone().set_requires_grad();

  Buffers b(4, 6);
  const Tensor fused = intra_class_loss(f1, labels(kRealLabels), s1, labels(synth_labels), b.centers, b.seen,
                                        options(RdbpMode::Naive));
  fused.backward();

  std::vector<float> all = kRealLabels;
  all.insert(all.end(), synth_labels.begin(), synth_labels.end());
  std::vector<double> averaging(4 * all.size(), 0.0), count(4, 0.0);
  for (float y : all) count[static_cast<size_t>(y)] += 1;
  for (size_t i = 0; i < all.size(); ++i)
    averaging[static_cast<size_t>(all[i]) * all.size() + i] = 1.0 / count[static_cast<size_t>(all[i])];
  const Tensor x = concat({f2, s2}, 0);
  const Tensor centers = matmul(Tensor::from_vector(averaging, {4, static_cast<int64_t>(all.size())}), x);
  std::vector<int64_t> rows;
  for (float y : all) rows.push_back(static_cast<int64_t>(y));
  const Tensor diff = x - index_select(centers, rows);
  const Tensor composed = sum(diff * diff) * (1.0 / (2.0 * static_cast<double>(all.size())));
  composed.backward();

  REQUIRE_CLOSE(fused, composed, 1e-12, 1e-10);
  REQUIRE_CLOSE(f1.grad(), f2.grad(), 1e-12, 1e-10);
  REQUIRE_CLOSE(s1.grad(), s2.grad(), 1e-12, 1e-10);
}

TEST_CASE("intra_class_loss uses the running center for classes without real samples", "[cpu]") {
  const Tensor f = test::random_tensor({7, 3}, 11, -1, 1, DType::F64);
  Tensor s = test::random_tensor({5, 3}, 12, -1, 1, DType::F64).set_requires_grad();
  Buffers b(4, 3);
  const std::vector<double> running3 = {0.5, -0.25, 2.0};
  for (int64_t d = 0; d < 3; ++d) b.centers.data<double>()[3 * 3 + d] = running3[static_cast<size_t>(d)];
  b.seen.data<double>()[3] = 4;  // class 3 was seen in earlier batches
  intra_class_loss(f, labels(kRealLabels), s, labels(kSynthLabels), b.centers, b.seen).backward();

  std::vector<std::vector<double>> centers;
  for (int64_t k = 0; k < 3; ++k) centers.push_back(class_mean(f, kRealLabels, k));
  centers.push_back(running3);
  REQUIRE_CLOSE(s.grad(), expected_grad(s, kSynthLabels, centers, 1.0 / 12), 1e-12, 1e-12);
  // Class 3 had no real sample: its running center and count are unchanged.
  REQUIRE(b.seen.data<double>()[3] == 4);
  REQUIRE(b.centers.data<double>()[3 * 3 + 2] == 2.0);
}

TEST_CASE("intra_class_loss skips classes never seen", "[cpu]") {
  const Tensor f = test::random_tensor({2, 3}, 13, -1, 1, DType::F64);
  Tensor s = test::random_tensor({2, 3}, 14, -1, 1, DType::F64).set_requires_grad();
  Buffers b(3, 3);
  // Class 2 has no real sample and was never seen: the synthetic sample of class 2 is skipped.
  const Tensor loss = intra_class_loss(f, labels({0, 0}), s, labels({2, 0}), b.centers, b.seen);
  loss.backward();
  const std::vector<double> g = s.grad().to_vector_f64();
  for (int d = 0; d < 3; ++d) REQUIRE(g[static_cast<size_t>(d)] == 0.0);
  const std::vector<double> c = class_mean(f, {0, 0}, 0);
  const std::vector<double> sv = s.to_vector_f64();
  for (int d = 0; d < 3; ++d)
    REQUIRE(g[static_cast<size_t>(3 + d)] == Approx((sv[static_cast<size_t>(3 + d)] - c[static_cast<size_t>(d)]) / 3));

  // Nothing centered at all: the loss is 0 and no gradient flows.
  Buffers empty(3, 3);
  Tensor lone = test::random_tensor({1, 3}, 15, -1, 1, DType::F64).set_requires_grad();
  const Tensor none = intra_class_loss(Tensor::zeros({0, 3}, DType::F64), labels({}), lone, labels({1}),
                                       empty.centers, empty.seen);
  REQUIRE(none.item() == 0.0);
  none.backward();
  REQUIRE_CLOSE(lone.grad(), Tensor::zeros({1, 3}, DType::F64), 0, 0);
}

TEST_CASE("intra_class_loss updates running centers from real features only", "[cpu]") {
  const Tensor f1 = test::random_tensor({7, 2}, 16, -1, 1, DType::F64);
  const Tensor f2 = test::random_tensor({7, 2}, 17, -1, 1, DType::F64);
  const Tensor s = test::random_tensor({5, 2}, 18, -5, 5, DType::F64);
  Buffers b(4, 2);
  IntraClassOptions o;
  o.momentum = 0.25;
  intra_class_loss(f1, labels(kRealLabels), s, labels(kSynthLabels), b.centers, b.seen, o);
  const std::vector<double> m1 = class_mean(f1, kRealLabels, 0), m2 = class_mean(f2, kRealLabels, 0);
  REQUIRE(b.centers.data<double>()[0] == Approx(m1[0]).epsilon(1e-12));  // first sighting: the batch mean
  REQUIRE(b.seen.to_vector_f64() == std::vector<double>{3, 2, 2, 0});    // synthetic class 3 not counted
  REQUIRE(b.centers.data<double>()[3 * 2] == 0.0);

  intra_class_loss(f2, labels(kRealLabels), s, labels(kSynthLabels), b.centers, b.seen, o);
  REQUIRE(b.centers.data<double>()[1] == Approx(0.75 * m1[1] + 0.25 * m2[1]).epsilon(1e-12));
  REQUIRE(b.seen.to_vector_f64() == std::vector<double>{6, 4, 4, 0});

  // Evaluation leaves the buffers alone.
  const std::vector<double> before = b.centers.to_vector_f64();
  intra_class_loss(f1, labels(kRealLabels), s, labels(kSynthLabels), b.centers, b.seen, options(RdbpMode::Rdbp, false));
  REQUIRE(b.centers.to_vector_f64() == before);
  REQUIRE(b.seen.to_vector_f64() == std::vector<double>{6, 4, 4, 0});
}

TEST_CASE("intra_class_loss cpu path matches the reference", "[cpu]") {
  // Large enough for the threaded path (>= 64K elements), odd sizes.
  for (RdbpMode mode : {RdbpMode::Rdbp, RdbpMode::Naive}) {
    const int64_t nr = 37, ns = 29, dim = 1031, classes = 7;
    std::vector<float> yr, ys;
    for (int64_t i = 0; i < nr; ++i) yr.push_back(static_cast<float>(i % 5));      // classes 5, 6: no real
    for (int64_t j = 0; j < ns; ++j) ys.push_back(static_cast<float>((j * 3) % 7));
    const Tensor f = test::random_tensor({nr, dim}, 19), s = test::random_tensor({ns, dim}, 20);
    // Class 5 seen before (running center used in rdbp mode), class 6 never seen (skipped).
    Tensor seen_init = Tensor::from_vector(std::vector<float>{3, 0, 1, 0, 2, 5, 0}, {classes});
    Tensor running_init = test::random_tensor({classes, dim}, 21);

    struct Out {
      Tensor running, seen, centers, has_center, loss, count, grad_f, grad_s;
    };
    auto run = [&](bool optimized) {
      Out o{running_init.clone(), seen_init.clone(), Tensor::empty({classes, dim}), Tensor::empty({classes}),
            Tensor::empty({1}), Tensor::empty({1}), Tensor::empty({nr, dim}), Tensor::empty({ns, dim})};
      RdbpShape shape{nr, ns, dim, classes, mode, 0.3, true};
      const float g = 1.5f;
      const float* yr_p = yr.data();
      const float* ys_p = ys.data();
      if (optimized) {
        rdbp_forward_cpu(shape, f.data<float>(), yr_p, s.data<float>(), ys_p, o.running.data<float>(),
                         o.seen.data<float>(), o.centers.data<float>(), o.has_center.data<float>(),
                         o.loss.data<float>(), o.count.data<float>());
        rdbp_backward_cpu(shape, f.data<float>(), yr_p, s.data<float>(), ys_p, o.centers.data<float>(),
                          o.has_center.data<float>(), o.count.data<float>(), &g, o.grad_f.data<float>(),
                          o.grad_s.data<float>());
      } else {
        rdbp_forward_ref<float>(shape, f.data<float>(), yr_p, s.data<float>(), ys_p, o.running.data<float>(),
                                o.seen.data<float>(), o.centers.data<float>(), o.has_center.data<float>(),
                                o.loss.data<float>(), o.count.data<float>());
        rdbp_backward_ref<float>(shape, f.data<float>(), yr_p, s.data<float>(), ys_p, o.centers.data<float>(),
                                 o.has_center.data<float>(), o.count.data<float>(), &g, o.grad_f.data<float>(),
                                 o.grad_s.data<float>());
      }
      return o;
    };
    const Out ref = run(false), cpu = run(true);
    REQUIRE_CLOSE(cpu.loss, ref.loss, 1e-6, 1e-5);
    REQUIRE_CLOSE(cpu.count, ref.count, 0, 0);
    REQUIRE_CLOSE(cpu.has_center, ref.has_center, 0, 0);
    REQUIRE_CLOSE(cpu.centers, ref.centers, 1e-6, 1e-5);
    REQUIRE_CLOSE(cpu.running, ref.running, 1e-6, 1e-5);
    REQUIRE_CLOSE(cpu.seen, ref.seen, 0, 0);
    REQUIRE_CLOSE(cpu.grad_f, ref.grad_f, 1e-7, 1e-5);
    REQUIRE_CLOSE(cpu.grad_s, ref.grad_s, 1e-7, 1e-5);
    REQUIRE(ref.has_center.to_vector() ==
            (mode == RdbpMode::Rdbp ? std::vector<float>{1, 1, 1, 1, 1, 1, 0} : std::vector<float>(7, 1)));
  }
}

TEST_CASE("intra_class_loss rejects bad arguments naming them", "[cpu]") {
  Buffers b(3, 4, DType::F32);
  const Tensor f = test::random_tensor({2, 4}, 22), s = test::random_tensor({2, 5}, 23);
  REQUIRE_THROWS_WITH(intra_class_loss(f, labels({0, 3}), Tensor(), Tensor(), b.centers, b.seen),
                      Catch::Contains("real label 3 at position 1"));
  REQUIRE_THROWS_WITH(intra_class_loss(f, labels({0, 1}), s, labels({0, 1}), b.centers, b.seen),
                      Catch::Contains("[2, 5]") && Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(intra_class_loss(f, labels({0}), Tensor(), Tensor(), b.centers, b.seen),
                      Catch::Contains("real labels"));
  Buffers wrong(3, 5, DType::F32);
  REQUIRE_THROWS_WITH(intra_class_loss(f, labels({0, 1}), Tensor(), Tensor(), wrong.centers, wrong.seen),
                      Catch::Contains("running_centers"));
}
