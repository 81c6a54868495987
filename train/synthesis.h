// How good G's faces are, measured with networks G never trained against (issue 14, item 2).
//
// The judge is a recognizer trained on the fold's real training images only, selected on the
// validation split and frozen: the baseline's recipe (train/trainer.h trains it into RUNDIR/judge/,
// or `fer ablate` hands it the baseline unit's recognizer). It is never the R being trained, so it
// cannot have learned the patterns that G, D's class head and R agree on; it scores an expression
// the way real faces show it.
//
// On a fixed probe (the first `faces` validation faces, evenly spaced, and `faces` prior codes of a
// fixed seed), with every expression as target:
//   judge_real         the judge's accuracy on the whole real validation split (the ceiling)
//   fidelity_transfer  judge(G(E(x), y')) == y' over every face x and target y'
//   fidelity_prior     judge(G(p, y)) == y over every prior code p and target y
//   identity           mean cosine of Id(x) and Id(G(E(x), y')): the same face in another expression
//   identity_unrelated mean cosine of Id(x_i) and Id(x_j), i != j: two probe faces, for scale
//                      (embeddings centred on the probe faces' mean, so unrelated faces score
//                      about -1/(n-1) and the same face 1)
//   reconstruction     mean |G(E(x), y) - x|, y the face's own label
//   diversity          mean |x_pf,a - x_pf,b| over pairs of prior codes a != b, same target
//   diversity_real     mean |x_i - x_j| over pairs of probe faces, for scale
// The targets are balanced (each class equally often), so a generator whose faces do not depend on
// the target scores 1/K; one that returns real faces of the target class scores the judge's
// accuracy on them. Identity terms are absent (NaN) without an identity network.
// Everything runs under no-grad in the callers' eval mode; the probe draws no random numbers of the run.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>

#include "models/recognizer.h"
#include "train/imageset.h"

namespace fer::train {

struct SynthesisScores {
  double judge_real = 0, fidelity_transfer = 0, fidelity_prior = 0;
  double identity = 0, identity_unrelated = 0;
  double reconstruction = 0, diversity = 0, diversity_real = 0;
  nlohmann::json to_json() const;
};

// The generator under test: encode real images [n, C, S, S] to codes [n, d], decode codes [n, d]
// with labels [n] to images [n, C, S, S]; row r of a decode call is probe face or code r.
struct FaceSource {
  std::function<Tensor(const Tensor& images)> encode;
  std::function<Tensor(const Tensor& codes, const Tensor& labels)> decode;
  int64_t latent = 0;  // code size of the prior codes
};

struct SynthesisProbe {
  const ImageSet* real = nullptr;  // the validation split
  int64_t faces = 32;              // probe faces and prior codes
  int64_t classes = 0;
  uint64_t prior_seed = 0x7A11;
  Device device;
};

SynthesisScores score_synthesis(models::Recognizer& judge, models::IdentityNet* identity, const FaceSource& source,
                                const SynthesisProbe& probe);

}  // namespace fer::train
