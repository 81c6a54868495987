// `fer ablate`: the paper's ablation as one command. Every mode is trained on the same
// subject-independent folds with the same seeds, so that the modes can be compared fold by fold.
//
// OUT/ablation.json        the resolved settings (modes, folds, repeats, data, the base config)
// OUT/<mode>/repeat<r>-fold<f>/
//                          one ordinary `fer train` run folder per unit (mode, repeat, fold):
//                          config.json, split.json, metrics.jsonl, checkpoints/, samples/, ...
// OUT/comparison.json      per-mode mean, std and 95% interval; per-unit accuracies; paired
//                          differences against the reference mode (train/stats.h); recalls
// OUT/report.html          the comparison for a person (train/report.h)
//
// Repeat r draws its split and its weights with seed config.seed + r, so repeats re-draw the
// split; every mode of one (repeat, fold) sees the same train, validation and test subjects.
// Units run in the order repeat, fold, mode (baseline first: its recognizer is the judge of the
// other modes' faces, train/synthesis.h). Each unit's folder starts with its config.json and is
// trained as `fer train --resume` trains a run; one with a summary.json is read back. So a killed
// ablation continues with --resume where it stopped and ends with the comparison an uninterrupted
// one writes.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/config.h"

namespace fer::train {

struct AblateRequest {
  TrainConfig config;              // the base: mode, protocol.fold and seed are set per unit
  std::string data;
  std::string out;
  std::vector<std::string> modes;  // default: all five
  int64_t repeats = 1;
  bool resume = false;
  bool quiet = false;
  bool debug = false;  // fer --debug: passed on to the child processes, so that train.log has it too
  // Units trained at once: 1 trains them in this process, one after another; more run each as a
  // `fer train --resume` child process of fer_binary with threads_per_job OpenMP threads (its
  // output in the unit's train.log), the baselines first. Results depend on the thread count (the order of float
  // sums), not on the number of jobs.
  int64_t jobs = 1;
  int64_t threads_per_job = 1;
  std::string fer_binary = "/proc/self/exe";
  // Tests of --resume: stop as on Ctrl-C in unit `stop_unit` (0-based, in run order) before its
  // `stop_after_steps`-th step; -1: never.
  int64_t stop_unit = -1, stop_after_steps = -1;
};

// The settings an ablation is made of, as saved in ablation.json (the request less its run flags).
nlohmann::json ablation_settings(const AblateRequest& request);

// Runs (or continues) every unit and writes comparison.json and report.html. Returns the
// comparison. Throws before any training when the folder holds another ablation or, with
// resume, when the request's settings differ from the saved ones (naming the first difference).
nlohmann::json run_ablation(const AblateRequest& request);

// The comparison of finished unit folders, as comparison.json holds it.
nlohmann::json compare_units(const AblateRequest& request);

// The comparison as the terminal shows it: one row per mode, with the paired difference, both
// intervals, wins/ties/losses, and a line saying whether each difference is significant.
std::string comparison_table(const nlohmann::json& comparison);

}  // namespace fer::train
