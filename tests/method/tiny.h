// The tiny dataset and configuration of the method tests (tests/method/): 6 rendered subjects x
// 7 expressions x 2 images at 16x16, made once per process, and a config that trains each stage
// for one epoch of batches of 4; and run_fer, the `fer` command as a child process.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

#include "data/split.h"
#include "data/synthetic.h"
#include "train/protocol.h"
#include "train/trainer.h"

namespace fer::train::tiny {

namespace fs = std::filesystem;

// A tiny rendered dataset (6 subjects x 7 expressions x 2 images, 16x16), made once per process.
inline const std::string& tiny_dataset() {
  static const std::string dir = [] {
    const std::string path = (fs::temp_directory_path() / ("fer_method_data_" + std::to_string(::getpid()))).string();
    data::SynthOptions o;
    o.out_dir = path;
    o.subjects = 6;
    o.per_class = 2;
    o.size = 16;
    o.threads = 1;
    data::write_synthetic_dataset(o);
    return path;
  }();
  return dir;
}

inline std::string fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fer_method_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

inline TrainConfig tiny_config(const std::string& mode, const std::string& device) {
  TrainConfig c = small_config(16, 0.125, 1);
  c.mode = mode;
  c.device = device;
  c.model.latent = 8;
  c.model.feature_dim = 16;
  c.protocol.folds = 3;
  c.protocol.fold = 0;
  c.protocol.val_fraction = 0.25;
  c.stage0.batch_size = c.stage1.batch_size = c.stage2.batch_size = 4;
  c.stage2.synth_batch = 4;
  c.sample_identities = 2;
  return c;
}

// A quiet run of the tiny dataset into a fresh folder named after `name`.
inline TrainRequest tiny_request(const std::string& mode, const std::string& name, const std::string& device = "cpu") {
  TrainRequest r;
  r.config = tiny_config(mode, device);
  r.data = tiny_dataset();
  r.quiet = true;
  r.out = fresh_dir(name);
  return r;
}

inline FoldData tiny_fold(const TrainConfig& config) {
  const data::Dataset dataset = load_configured_dataset(config, tiny_dataset());
  data::SplitOptions so;
  so.folds = 3;
  so.val_fraction = 0.25;
  const data::Fold fold = data::make_kfold_split(dataset, so).folds[0];
  return {make_image_set(dataset, fold.train), make_image_set(dataset, fold.val), make_image_set(dataset, fold.test),
          dataset.class_names};
}

// The stdout of the `fer` command with these arguments (stdout and stderr together when
// `with_stderr`), and its exit status.
inline std::pair<std::string, int> run_fer(const std::string& args, bool with_stderr = false) {
  FILE* pipe = ::popen((FER_BINARY_DIR "/fer " + args + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (pipe == nullptr) return {"popen failed", -1};
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {out, WEXITSTATUS(status)};
}

}  // namespace fer::train::tiny
