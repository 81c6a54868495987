#include "train/synthesis.h"

#include <cmath>
#include <limits>

#include "engine/ops.h"
#include "train/samples.h"

namespace fer::train {

namespace {

constexpr int64_t kBatch = 64;  // rows per forward

std::vector<int64_t> argmax_rows(const std::vector<float>& logits, int64_t classes) {
  std::vector<int64_t> out(logits.size() / static_cast<size_t>(classes));
  for (size_t r = 0; r < out.size(); ++r) {
    const auto row = logits.begin() + static_cast<int64_t>(r) * classes;
    out[r] = std::max_element(row, row + classes) - row;
  }
  return out;
}

// How many rows of images the judge classifies as `targets` (host labels).
int64_t agreeing(models::Recognizer& judge, const Tensor& images, const std::vector<int64_t>& targets, int64_t classes) {
  int64_t hits = 0;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += kBatch) {
    const int64_t len = std::min(kBatch, n - start);
    const std::vector<int64_t> predicted = argmax_rows(judge.forward(slice(images, 0, start, start + len)).to_vector(), classes);
    for (int64_t i = 0; i < len; ++i) hits += predicted[static_cast<size_t>(i)] == targets[static_cast<size_t>(start + i)];
  }
  return hits;
}

// Mean absolute difference per pixel between rows a and b of [n, P] host data.
double row_l1(const std::vector<float>& data, int64_t pixels, int64_t a, int64_t b) {
  double s = 0;
  for (int64_t p = 0; p < pixels; ++p) s += std::fabs(data[static_cast<size_t>(a * pixels + p)] - data[static_cast<size_t>(b * pixels + p)]);
  return s / static_cast<double>(pixels);
}

double mean_pairwise_l1(const Tensor& images) {
  const std::vector<float> v = images.to_vector();
  const int64_t n = images.size(0), pixels = images.numel() / std::max<int64_t>(1, n);
  double s = 0;
  int64_t pairs = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = a + 1; b < n; ++b, ++pairs) s += row_l1(v, pixels, a, b);
  return pairs ? s / static_cast<double>(pairs) : 0;
}

double cosine(const std::vector<float>& e, const std::vector<float>& f, int64_t dim, int64_t a, int64_t b) {
  double dot = 0, ne = 0, nf = 0;
  for (int64_t k = 0; k < dim; ++k) {
    const double x = e[static_cast<size_t>(a * dim + k)], y = f[static_cast<size_t>(b * dim + k)];
    dot += x * y, ne += x * x, nf += y * y;
  }
  return ne > 0 && nf > 0 ? dot / std::sqrt(ne * nf) : 0;
}

Tensor constant_labels(int64_t n, int64_t label, Device device) {
  return Tensor::from_vector(std::vector<float>(static_cast<size_t>(n), static_cast<float>(label)), {n}, device);
}

}  // namespace

nlohmann::json SynthesisScores::to_json() const {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"judge_real", judge_real},         {"fidelity_transfer", fidelity_transfer},
          {"fidelity_prior", fidelity_prior}, {"identity", number(identity)},
          {"identity_unrelated", number(identity_unrelated)}, {"reconstruction", reconstruction},
          {"diversity", diversity},           {"diversity_real", diversity_real}};
}

SynthesisScores score_synthesis(models::Recognizer& judge, models::IdentityNet* identity, const FaceSource& source,
                                const SynthesisProbe& probe) {
  const ImageSet& real = *probe.real;
  FER_CHECK(real.size() > 0) << "score_synthesis: the validation split is empty";
  FER_CHECK(!judge.is_training() && (!identity || !identity->is_training()))
      << "score_synthesis: the judge and the identity network must be in eval mode (frozen)";
  const int64_t K = probe.classes, n = std::min(probe.faces, real.size());
  NoGradGuard no_grad;
  SynthesisScores s;

  std::vector<int64_t> all(static_cast<size_t>(real.size())), rows;
  for (int64_t i = 0; i < real.size(); ++i) all[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < n; ++i) rows.push_back(i * real.size() / n);
  std::vector<int64_t> real_labels(real.labels.begin(), real.labels.end());
  s.judge_real = static_cast<double>(agreeing(judge, make_batch(real, all, probe.device).images, real_labels, K)) /
                 static_cast<double>(real.size());

  const Batch faces = make_batch(real, rows, probe.device);
  const Tensor codes = source.encode(faces.images);
  s.reconstruction = l1_loss(source.decode(codes, faces.labels), faces.images).item();
  s.diversity_real = mean_pairwise_l1(faces.images);

  // Embeddings are centred on the probe faces' mean: an untrained or collapsed Id gives every face
  // nearly the same raw vector, and the centred cosine still tells one face from another.
  std::vector<float> id_mean;
  auto centred_embedding = [&](const Tensor& images) {
    std::vector<float> e = identity->forward(images).to_vector();
    for (size_t i = 0; i < e.size(); ++i) e[i] -= id_mean[i % id_mean.size()];
    return e;
  };
  std::vector<float> id_real;
  int64_t dim = 0;
  if (identity) {
    const Tensor e = identity->forward(faces.images);
    dim = e.size(1);
    id_mean = mean(e, {0}).to_vector();
    id_real = centred_embedding(faces.images);
    double sum = 0;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b)
        if (a != b) sum += cosine(id_real, id_real, dim, a, b);
    s.identity_unrelated = n > 1 ? sum / static_cast<double>(n * (n - 1)) : std::numeric_limits<double>::quiet_NaN();
  } else {
    s.identity = s.identity_unrelated = std::numeric_limits<double>::quiet_NaN();
  }

  const Tensor prior = prior_codes(n, source.latent, probe.prior_seed, probe.device);
  int64_t transfer_hits = 0, prior_hits = 0;
  double identity_sum = 0, diversity_sum = 0;
  for (int64_t k = 0; k < K; ++k) {
    const Tensor target = constant_labels(n, k, probe.device);
    const std::vector<int64_t> targets(static_cast<size_t>(n), k);
    const Tensor transfers = source.decode(codes, target);
    transfer_hits += agreeing(judge, transfers, targets, K);
    if (identity) {
      const std::vector<float> id_fake = centred_embedding(transfers);
      for (int64_t r = 0; r < n; ++r) identity_sum += cosine(id_real, id_fake, dim, r, r);
    }
    const Tensor priors = source.decode(prior, target);
    prior_hits += agreeing(judge, priors, targets, K);
    diversity_sum += mean_pairwise_l1(priors);
  }
  const auto total = static_cast<double>(n * K);
  s.fidelity_transfer = static_cast<double>(transfer_hits) / total;
  s.fidelity_prior = static_cast<double>(prior_hits) / total;
  if (identity) s.identity = identity_sum / total;
  s.diversity = diversity_sum / static_cast<double>(K);
  return s;
}

}  // namespace fer::train
