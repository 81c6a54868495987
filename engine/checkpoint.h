// Training checkpoints: one safetensors file (engine/safetensors.h) holding
//   "module.<name>.<key>"  every parameter and buffer of each named module (its state_dict),
//   "optim.<name>.<key>"   each named optimizer's state_dict (moments, step counters, lr),
// and, under the metadata key "fer.checkpoint", a JSON string:
//   {"format": 3, "step": .., "epoch": .., "random_streams": {"<name>": {"seed": .., "offset": ..}},
//    "modules": [..], "optimizers": [..], "context": {what the weights were made for},
//    "extra": {free-form fields of the trainer}}.
// The file can be opened by Python's safetensors to inspect or convert the weights.
//
// save is atomic (temporary file + fsync + rename). load restores every object in place and
// checks everything first: the file's validity, that exactly the expected tensors are present,
// shapes (naming the tensor and both shapes), that every floating-point value is finite, the
// metadata, and the context: a JSON object the caller states (e.g. image size and class names,
// which shapes alone do not tell); every key of the expected context must hold the same value in
// the saved one. Every error names the file. Nothing is modified unless the whole checkpoint
// matches.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/random.h"

namespace fer {

// The objects a checkpoint saves and restores, by name (non-owning).
struct TrainingObjects {
  std::map<std::string, nn::Module*> modules;
  std::map<std::string, optim::Optimizer*> optimizers;
  std::map<std::string, RandomStream*> random_streams;
};

struct TrainingProgress {
  int64_t step = 0;
  int64_t epoch = 0;
  nlohmann::json context = nlohmann::json::object();  // checked by load_checkpoint
  nlohmann::json extra = nlohmann::json::object();    // free-form, returned as saved
};

void save_checkpoint(const std::string& path, const TrainingObjects& objects, const TrainingProgress& progress);
// Restores modules, optimizers and random streams in place and returns the progress counters.
TrainingProgress load_checkpoint(const std::string& path, const TrainingObjects& objects,
                                 const nlohmann::json& expected_context = nlohmann::json::object());

}  // namespace fer
