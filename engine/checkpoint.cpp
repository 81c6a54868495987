// Checkpoint save/load on top of safetensors. See checkpoint.h for the file layout.
#include "engine/checkpoint.h"

#include <cmath>
#include <sstream>

#include "engine/safetensors.h"

namespace fer {

namespace {

using json = nlohmann::json;

constexpr const char* kMetadataKey = "fer.checkpoint";
constexpr int kFormat = 3;  // raised whenever the metadata layout changes; older files are refused

// The entries of `all` under "prefix", with the prefix removed.
std::map<std::string, Tensor> strip_prefix(const std::map<std::string, Tensor>& all, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (auto it = all.lower_bound(prefix); it != all.end() && it->first.rfind(prefix, 0) == 0; ++it)
    out.emplace(it->first.substr(prefix.size()), it->second);
  return out;
}

json names_of(const auto& map) {
  json names = json::array();
  for (const auto& [name, object] : map) names.push_back(name);
  return names;
}

json parse_metadata(const std::string& path) {
  const auto metadata = load_safetensors_metadata(path);
  auto it = metadata.find(kMetadataKey);
  FER_CHECK(it != metadata.end()) << "checkpoint '" << path << "': no '" << kMetadataKey
                                  << "' metadata: not a fer checkpoint";
  json meta = json::parse(it->second, nullptr, false);
  FER_CHECK(!meta.is_discarded() && meta.is_object()) << "checkpoint '" << path << "': corrupted metadata JSON";
  FER_CHECK(meta.value("format", 0) == kFormat) << "checkpoint '" << path << "': format "
                                                << meta.value("format", 0) << ", this build reads " << kFormat;
  return meta;
}

// The random streams' states, checked against the expected names before anything is restored.
std::map<std::string, std::pair<uint64_t, uint64_t>> read_random_streams(const std::string& path, const json& meta,
                                                                     const TrainingObjects& objects) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> states;
  const json& saved = meta.contains("random_streams") ? meta["random_streams"] : json::object();
  for (const auto& [name, rng] : objects.random_streams) {
    FER_CHECK(saved.contains(name) && saved[name].contains("seed") && saved[name].contains("offset") &&
              saved[name]["seed"].is_number_unsigned() && saved[name]["offset"].is_number_unsigned())
        << "checkpoint '" << path << "': no valid state for random stream '" << name << "'";
    states[name] = {saved[name]["seed"].get<uint64_t>(), saved[name]["offset"].get<uint64_t>()};
  }
  return states;
}

// The saved tensors of one object (`prefix` = "module.<name>.") must be exactly the object's own,
// with the same shapes. The error lists every problem of the object.
void check_object(const std::string& path, const std::string& prefix, const std::map<std::string, Tensor>& own,
                  const std::map<std::string, Tensor>& saved) {
  std::ostringstream problems;
  for (const auto& [key, t] : own) {
    auto it = saved.find(key);
    if (it == saved.end()) {
      problems << "\n  missing tensor '" << prefix << key << "'";
    } else if (it->second.shape() != t.shape()) {
      problems << "\n  tensor '" << prefix << key << "' has shape " << shape_str(it->second.shape())
               << " in the file, " << shape_str(t.shape()) << " in the model";
    }
  }
  for (const auto& [key, t] : saved)
    if (!own.count(key)) problems << "\n  unexpected tensor '" << prefix << key << "'";
  FER_CHECK(problems.str().empty()) << "checkpoint '" << path << "' does not match:" << problems.str();
}

bool has_prefix(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

void check_finite(const std::string& path, const std::string& key, const Tensor& t) {
  const std::vector<double> values = t.to_vector_f64();
  for (size_t i = 0; i < values.size(); ++i)
    FER_CHECK(std::isfinite(values[i])) << "checkpoint '" << path << "': tensor '" << key << "' holds "
                                        << values[i] << " at element " << i << ": the weights are broken";
}

// Every key of `expected` holds the same value in the saved context; the error lists each difference.
void check_context(const std::string& path, const json& saved, const json& expected) {
  std::ostringstream problems;
  for (const auto& [key, value] : expected.items()) {
    if (!saved.contains(key))
      problems << "\n  " << key << ": not recorded in the file, " << value.dump() << " here";
    else if (saved[key] != value)
      problems << "\n  " << key << ": " << saved[key].dump() << " in the file, " << value.dump() << " here";
  }
  FER_CHECK(problems.str().empty()) << "checkpoint '" << path << "' was made for something else:" << problems.str();
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingObjects& objects, const TrainingProgress& progress) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, module] : objects.modules)
    for (const auto& [key, t] : module->state_dict()) tensors["module." + name + "." + key] = t;
  for (const auto& [name, optimizer] : objects.optimizers)
    for (const auto& [key, t] : optimizer->state_dict()) tensors["optim." + name + "." + key] = t;

  json meta = {{"format", kFormat},
               {"step", progress.step},
               {"epoch", progress.epoch},
               {"random_streams", json::object()},
               {"modules", names_of(objects.modules)},
               {"optimizers", names_of(objects.optimizers)},
               {"context", progress.context},
               {"extra", progress.extra}};
  for (const auto& [name, rng] : objects.random_streams)
    meta["random_streams"][name] = {{"seed", rng->seed()}, {"offset", rng->offset()}};
  save_safetensors(path, tensors, {{kMetadataKey, meta.dump()}});
}

TrainingProgress load_checkpoint(const std::string& path, const TrainingObjects& objects,
                                 const json& expected_context) {
  const json meta = parse_metadata(path);
  check_context(path, meta.value("context", json::object()), expected_context);
  const std::map<std::string, Tensor> tensors = load_safetensors(path);
  const auto stream_states = read_random_streams(path, meta, objects);

  // Check everything before changing anything.
  for (const auto& [key, t] : tensors) {
    bool known = false;
    for (const auto& [name, m] : objects.modules) known |= has_prefix(key, "module." + name + ".");
    for (const auto& [name, o] : objects.optimizers) known |= has_prefix(key, "optim." + name + ".");
    FER_CHECK(known) << "checkpoint '" << path << "': unexpected tensor '" << key << "'";
    check_finite(path, key, t);
  }
  for (const auto& [name, module] : objects.modules) {
    const std::string prefix = "module." + name + ".";
    check_object(path, prefix, module->state_dict(), strip_prefix(tensors, prefix));
  }
  for (const auto& [name, optimizer] : objects.optimizers) {
    const std::string prefix = "optim." + name + ".";
    check_object(path, prefix, optimizer->state_dict(), strip_prefix(tensors, prefix));
  }
  TrainingProgress progress;
  FER_CHECK(meta.contains("step") && meta["step"].is_number_integer() && meta.contains("epoch") &&
            meta["epoch"].is_number_integer())
      << "checkpoint '" << path << "': metadata lacks integer step and epoch counters";
  progress.step = meta["step"].get<int64_t>();
  progress.epoch = meta["epoch"].get<int64_t>();
  progress.context = meta.value("context", json::object());
  progress.extra = meta.value("extra", json::object());

  for (const auto& [name, module] : objects.modules) module->load_state_dict(strip_prefix(tensors, "module." + name + "."));
  for (const auto& [name, optimizer] : objects.optimizers)
    optimizer->load_state_dict(strip_prefix(tensors, "optim." + name + "."));
  for (const auto& [name, rng] : objects.random_streams)
    rng->set_state(stream_states.at(name).first, stream_states.at(name).second);
  return progress;
}

}  // namespace fer
