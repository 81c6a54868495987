// Synthetic faces: a deterministic procedural renderer, the embedded default dataset of fer.
//
// Each subject has an identity (face shape, skin tone, hair style and colour, eye spacing and
// size, brows, nose, mouth, optional glasses or beard, a resting expression of its own). Each
// image shows one of seven expressions built from facial action cues (brow raise/lower, inner
// brow raise, eye opening, lip corners, mouth opening and width, nose wrinkle, upper-lip raise,
// cheek raise) at a random intensity, under random pose (roll, yaw, scale, shift), lighting and
// noise. Fear/surprise, anger/disgust and sadness/neutral share cues, so they overlap as they do
// for people; weak expressions approach the subject's own neutral face.
//
// Rendering: every shape is a signed distance in face coordinates, turned into an analytic
// coverage over one pixel (anti-aliasing without supersampling) and composited back to front.
// Determinism: every random draw is a pure function of (seed, subject, expression, index) via
// the counter-based generator of kernels/common/random.h, so images do not depend on thread
// order, and the same seed gives the same bytes.
// Threading: write_synthetic_dataset renders and writes images on `threads` std::threads, each
// taking whole images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace fer::data {

// The options of `fer synth-data`.
struct SynthOptions {
  std::string out_dir;   // ROOT: receives ROOT/<class>/<subject>_<nnn>.png and ROOT/manifest.csv
  int subjects = 24;     // subject IDs S001, S002, ...
  int per_class = 6;     // images of each subject in each expression
  int size = 64;         // square images, pixels
  int channels = 1;      // 1 gray, 3 RGB
  uint64_t seed = 0;
  int threads = 0;       // 0: std::thread::hardware_concurrency()
};

struct SynthSummary {
  int64_t images = 0;
  std::string manifest_path;  // ROOT/manifest.csv (columns path,label,subject; paths relative to ROOT)
};

// The seven rendered expressions, in the order they are rendered; canonical class names.
const std::vector<std::string>& synthetic_expressions();

// Renders image `index` of `subject` (0-based) showing synthetic_expressions()[expression].
Image render_synthetic_face(const SynthOptions& options, int subject, int expression, int index);

// Renders the whole dataset. Throws on invalid options or an unwritable folder.
SynthSummary write_synthetic_dataset(const SynthOptions& options);

}  // namespace fer::data
