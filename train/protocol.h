// `fer train`: loads the data, makes the split (protocol.kind: the subject-independent k-fold, or
// the data's own fixed split; model selection on a validation split of the training subjects
// only, which must not be empty), trains each fold (train/trainer.h) and
// writes the RUNDIR: config.json, split.json, metrics.jsonl, checkpoints/, samples/,
// folds/fold<i>.json, summary.json, the report (train/report.h), and with `profile` profile.json.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"
#include "train/config.h"

namespace fer::train {

struct TrainRequest {
  TrainConfig config;
  std::string data;    // dataset folder or CSV
  std::string out;     // RUNDIR
  bool resume = false; // continue the run in `out` (its config.json and split.json are used)
  // A fresh run into a folder that is not empty is an error unless this is set; then the files
  // and folders fer writes there are replaced (anything else in the folder is kept).
  bool overwrite = false;
  bool quiet = false;  // no progress lines
  // Time per phase (train/phases.h) and per kernel (engine/profiler.h): RUNDIR/profile.json, a
  // table at the end and a section of the report. On cuda every kernel then waits for the device.
  bool profile = false;
  int64_t stop_after_steps = -1;  // stop as on Ctrl-C after this many steps (tests of --resume)
};

// Returns summary.json's content.
nlohmann::json run_training(const TrainRequest& request);

// Throws, with the reason and what to do, when `device` ("cpu", "cuda", "cuda-sim") cannot run in
// this build on this machine; called before any data is loaded.
void check_device_usable(const std::string& device);

// The dataset as the config asks for it (format, classes, subjects, strictness, size, channels);
// what loading left out (skipped files, ignored folders) is printed on stderr.
data::Dataset load_configured_dataset(const TrainConfig& config, const std::string& path);

// JSON files of a run folder: written atomically (a temporary file, then a rename, so a reader
// never sees half a file); read with errors that name the file.
void write_json(const std::string& path, const nlohmann::json& json);
nlohmann::json read_json(const std::string& path);

// Reads RUNDIR/config.json back into a config (unknown keys are errors).
TrainConfig load_run_config(const std::string& run_dir);

}  // namespace fer::train
