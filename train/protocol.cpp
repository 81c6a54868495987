#include "train/protocol.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/split.h"
#include "engine/files.h"
#include "engine/kernel_selection.h"
#include "engine/profiler.h"
#include "kernels/runtime/device_memory.h"
#include "kernels/runtime/runtime.h"
#include "train/phases.h"
#include "train/report.h"
#include "train/trainer.h"

namespace fer::train {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

nlohmann::json fold_json(const FoldResult& r, const std::vector<std::string>& classes) {
  nlohmann::json j = r.test.to_json();
  j["fold"] = r.fold;
  j["test_images"] = r.test.total();
  j["best_epoch"] = r.best_epoch;
  j["best_val_accuracy"] = r.best_val_accuracy;
  j["classes"] = classes;
  return j;
}

// Training subjects of a fold (a sample without a subject counts as one): what its validation
// part is dealt from.
int64_t training_groups(const data::Dataset& dataset, const data::Fold& fold) {
  std::set<std::string> subjects;
  int64_t alone = 0;
  for (const std::vector<int64_t>* part : {&fold.train, &fold.val})
    for (int64_t i : *part) {
      const std::string& s = dataset.samples[static_cast<size_t>(i)].subject;
      if (s.empty())
        ++alone;
      else
        subjects.insert(s);
    }
  return alone + static_cast<int64_t>(subjects.size());
}

// Model selection needs a validation part in every fold that runs.
void require_validation(const data::Dataset& dataset, const data::Split& split, const TrainConfig& config) {
  for (size_t f = 0; f < split.folds.size(); ++f) {
    if (config.protocol.fold >= 0 && static_cast<int64_t>(f) != config.protocol.fold) continue;
    const data::Fold& fold = split.folds[f];
    FER_CHECK(!fold.val.empty()) << "fold " << f << ": the validation split is empty, so no epoch can be selected: "
                                 << training_groups(dataset, fold) << " training subjects (" << fold.train.size()
                                 << " images) are fewer than the " << data::validation_parts(config.protocol.val_fraction)
                                 << " parts protocol.val_fraction " << config.protocol.val_fraction
                                 << " deals them into (one part validates); raise protocol.val_fraction"
                                 << (split.kind == data::SplitKind::KFold ? ", raise protocol.folds (more training subjects per fold)" : "")
                                 << " or use data with more subjects";
  }
}

// The split a run uses: the saved one when resuming, else the data's own (protocol.kind fixed, or
// auto with split values) or the subject-independent k-fold.
data::Split choose_split(const data::Dataset& dataset, const TrainConfig& config, const fs::path& saved, bool resuming) {
  if (resuming && fs::exists(saved)) return data::load_split(saved.string(), static_cast<int64_t>(dataset.samples.size()));
  data::SplitOptions so;
  so.folds = static_cast<int>(config.protocol.folds);
  so.val_fraction = config.protocol.val_fraction;
  so.seed = static_cast<uint64_t>(config.seed);
  const bool fixed = config.protocol.kind == "fixed" || (config.protocol.kind == "auto" && dataset.has_split_values());
  FER_CHECK(!fixed || dataset.has_split_values())
      << "protocol.kind fixed: the data has no split values (manifest: a split column; FER2013: Usage)";
  return fixed ? data::make_fixed_split(dataset, so) : data::make_kfold_split(dataset, so);
}

// What the summary and the report say about the data and the split.
nlohmann::json data_json(const data::Dataset& dataset, const data::Split& split, const std::string& path) {
  const size_t shown = std::min<size_t>(dataset.skipped_files.size(), 10);
  return {{"path", path},
          {"format", data::dataset_format_name(dataset.format)},
          {"images", dataset.samples.size()},
          {"subjects", dataset.subject_count()},
          {"skipped", dataset.skipped_files.size()},
          {"skipped_files", std::vector<std::string>(dataset.skipped_files.begin(), dataset.skipped_files.begin() + shown)},
          {"ignored_folders", dataset.ignored_folders},
          {"split", data::split_kind_name(split.kind)},
          {"folds", split.folds.size()},
          {"subject_independent", dataset.has_subjects}};
}

nlohmann::json summarize(const TrainConfig& config, const std::vector<nlohmann::json>& folds,
                         const std::vector<std::string>& classes) {
  double sum = 0, sum_sq = 0;
  Confusion total(static_cast<int64_t>(classes.size()));
  for (const nlohmann::json& f : folds) {
    const double a = f.at("accuracy");
    sum += a, sum_sq += a * a;
    const auto rows = f.at("confusion").get<std::vector<std::vector<int64_t>>>();
    for (size_t t = 0; t < rows.size(); ++t)
      for (size_t p = 0; p < rows[t].size(); ++p) total.counts[t * rows.size() + p] += rows[t][p];
  }
  const auto n = static_cast<double>(folds.size());
  const double mean = n > 0 ? sum / n : 0;
  const double var = n > 1 ? std::max(0.0, (sum_sq - n * mean * mean) / (n - 1)) : 0.0;
  return {{"mode", config.mode},
          {"classes", classes},
          {"folds", folds},
          {"mean_accuracy", mean},
          {"std_accuracy", std::sqrt(var)},
          {"pooled", total.to_json()}};
}

// The kernel profiler waits for the device at every dispatch, so that a kernel's time is its own.
std::function<void()> device_synchronizer(Device device) {
#ifdef FER_WITH_CUDA
  if (device == Device::CUDA) return [] { cuda::device_synchronize(); };
#endif
#ifdef FER_WITH_CUDA_SIM
  if (device == Device::CUDASim) return [] { cudasim::device_synchronize(); };
#endif
  (void)device;
  return {};
}

nlohmann::json profile_json(const std::vector<phases::PhaseTime>& times, const std::vector<profiler::Row>& kernels) {
  nlohmann::json j = {{"wall_seconds", 0.0}, {"cpu_seconds", 0.0}, {"phases", nlohmann::json::array()},
                      {"kernels", nlohmann::json::array()}};
  for (const phases::PhaseTime& t : times) {
    j["wall_seconds"] = j["wall_seconds"].get<double>() + t.wall_seconds;
    j["cpu_seconds"] = j["cpu_seconds"].get<double>() + t.cpu_seconds;
    j["phases"].push_back(
        {{"name", t.name}, {"wall_seconds", t.wall_seconds}, {"cpu_seconds", t.cpu_seconds}, {"entries", t.entries}});
  }
  for (const profiler::Row& r : kernels)
    j["kernels"].push_back({{"op", r.op}, {"detail", r.detail}, {"calls", r.calls}, {"total_ms", r.total_ms}});
  return j;
}

// The table printed at the end of a profiled run: phases by wall time, then the costliest kernels.
std::string profile_text(const nlohmann::json& profile, const std::string& path) {
  const double wall = profile.at("wall_seconds").get<double>();
  std::vector<nlohmann::json> phases = profile.at("phases");
  std::sort(phases.begin(), phases.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.at("wall_seconds").get<double>() > b.at("wall_seconds").get<double>();
  });
  char line[256];
  std::snprintf(line, sizeof line, "profile: %.2f s wall, %.2f s CPU (%s)\n  %-18s %9s %7s %9s\n", wall,
                profile.at("cpu_seconds").get<double>(), path.c_str(), "phase", "wall s", "share", "CPU s");
  std::string text = line;
  for (const nlohmann::json& p : phases) {
    const double w = p.at("wall_seconds").get<double>();
    std::snprintf(line, sizeof line, "  %-18s %9.2f %6.1f%% %9.2f\n", p.at("name").get<std::string>().c_str(), w,
                  wall > 0 ? 100 * w / wall : 0.0, p.at("cpu_seconds").get<double>());
    text += line;
  }
  const nlohmann::json& kernels = profile.at("kernels");
  text += "  kernels, the costliest (all of them in profile.json):\n";
  for (size_t i = 0; i < std::min<size_t>(10, kernels.size()); ++i) {
    const nlohmann::json& k = kernels[i];
    std::snprintf(line, sizeof line, "  %9.1f ms %8lld calls  %s %s\n", k.at("total_ms").get<double>(),
                  static_cast<long long>(k.at("calls").get<int64_t>()), k.at("op").get<std::string>().c_str(),
                  k.at("detail").get<std::string>().c_str());
    text += line;
  }
  text.pop_back();
  return text;
}

// Stops the clocks, writes profile.json, prints the table and writes the report again with it.
void finish_profile(const std::string& out, RunLog& log) {
  const std::vector<phases::PhaseTime> times = phases::stop();
  const std::vector<profiler::Row> kernels = profiler::rows();
  profiler::stop();
  const nlohmann::json profile = profile_json(times, kernels);
  const std::string path = (fs::path(out) / "profile.json").string();
  write_json(path, profile);
  log.message(profile_text(profile, path));
  write_report(out);
}

}  // namespace

void write_json(const std::string& file, const nlohmann::json& json) {
  write_file_atomically(file, json.dump(2) + "\n");
}

nlohmann::json read_json(const std::string& file) {
  const fs::path path = file;
  std::ifstream in(path);
  FER_CHECK(in.good()) << "cannot read " << path.string();
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    FER_THROW() << path.string() << ": " << e.what();
  }
}

data::Dataset load_configured_dataset(const TrainConfig& config, const std::string& path) {
  data::DatasetOptions o;
  o.path = path;
  o.format = data::parse_dataset_format(config.data.format);
  o.classes = split_list(config.data.classes);
  o.subject_pattern = config.data.subject_pattern;
  o.no_subjects = config.data.no_subjects;
  o.strict = config.data.strict;
  o.size = static_cast<int>(config.model.image_size);
  o.channels = static_cast<int>(config.model.channels);
  data::Dataset dataset = data::load_dataset(o);
  if (const std::string left_out = data::left_out_text(dataset); !left_out.empty())
    std::fprintf(stderr, "%s\n", left_out.c_str());
  return dataset;
}

TrainConfig load_run_config(const std::string& run_dir) {
  TrainConfig config;
  FieldSet fields;
  config.bind(fields);
  const fs::path path = fs::path(run_dir) / "config.json";
  FER_CHECK(fs::is_regular_file(path)) << run_dir << " holds no config.json: is it the folder of a fer train run?";
  fields.load_json(read_json(path.string()), path.string());
  return config;
}

void check_device_usable(const std::string& device) {
  if (parse_device(device) != Device::CUDA) return;
#ifdef FER_WITH_CUDA
  try {
    (void)cuda::device_summary();
  } catch (const Error& e) {
    FER_THROW() << "--device cuda: the CUDA runtime finds no usable GPU (" << e.words()
                << "); check `nvidia-smi` and the driver, or train with --device cpu";
  }
#else
  FER_THROW() << "--device cuda: this build of fer has no CUDA backend (configure it where nvcc is installed), "
              << "or train with --device cpu";
#endif
}

nlohmann::json run_training(const TrainRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  if (request.profile) phases::start();
  struct ProfileOffOnError {  // a run that throws leaves neither clock running
    ~ProfileOffOnError() {
      if (!phases::enabled()) return;
      phases::cancel();
      profiler::stop();
    }
  } profile_off_on_error;
  const fs::path dir = request.out;
  const bool resuming = request.resume;
  if (resuming && !fs::exists(dir / "config.json"))
    FER_THROW() << "--resume: " << (dir / "config.json").string() << " not found: " << request.out
      << " holds no run to continue; start one without --resume";
  if (!resuming && !request.overwrite && fs::exists(dir) && !fs::is_empty(dir))
    FER_THROW() << request.out << " is not empty: continue the run there with --resume, replace fer's files in it with "
      << "--overwrite, or choose another --out";
  TrainConfig config = resuming ? load_run_config(request.out) : request.config;
  check_device_usable(config.device);
  select_kernels(parse_device(config.device), parse_kernel_choice(config.kernels));
  if (request.profile) profiler::start(device_synchronizer(parse_device(config.device)));
  const int64_t orphans = remove_orphan_temporaries(request.out);
  if (orphans > 0 && !request.quiet)
    std::fprintf(stderr, "removed %lld temporary file(s) that an interrupted write left in %s\n",
                 static_cast<long long>(orphans), request.out.c_str());
  const data::Dataset dataset = [&] {
    const phases::Phase phase("data loading");
    return load_configured_dataset(config, request.data);
  }();
  config.model.classes = static_cast<int64_t>(dataset.class_names.size());
  config.validate();
  const fs::path split_path = dir / "split.json";
  const data::Split split = choose_split(dataset, config, split_path, resuming);
  FER_CHECK(config.protocol.fold < static_cast<int64_t>(split.folds.size()))
      << "protocol.fold " << config.protocol.fold << " is not a fold of the data's fixed split (one fold, 0); "
      << "protocol.kind " << config.protocol.kind << " uses the data's split column: pass --protocol kfold for k folds";
  require_validation(dataset, split, config);
  if (!resuming)  // --overwrite: no stale results of an earlier run (only what fer writes goes)
    for (const char* ours : {"config.json", "split.json", "metrics.jsonl", "summary.json", "report.html", "profile.json",
                             "folds", "checkpoints", "samples", "plots", "judge"})
      fs::remove_all(dir / ours);
  fs::create_directories(dir / "folds");
  FieldSet fields;
  config.bind(fields);
  write_json((dir / "config.json").string(), fields.to_json());

  data::save_split(split_path.string(), split);
  const nlohmann::json data_info = data_json(dataset, split, request.data);

  RunLog log((dir / "metrics.jsonl").string(), request.quiet);
  log.message("dataset: " + std::to_string(dataset.samples.size()) + " images, " + std::to_string(dataset.class_names.size()) +
              " classes, " + std::to_string(dataset.subject_count()) + " subjects; " + split_description(data_info));
  std::vector<nlohmann::json> results;
  for (int64_t f = 0; f < static_cast<int64_t>(split.folds.size()); ++f) {
    if (config.protocol.fold >= 0 && f != config.protocol.fold) continue;
    const fs::path fold_path = dir / "folds" / ("fold" + std::to_string(f) + ".json");
    if (resuming && fs::exists(fold_path)) {
      results.push_back(read_json(fold_path.string()));
      continue;
    }
    const data::Fold& fold = split.folds[static_cast<size_t>(f)];
    FoldData data = [&] {
      const phases::Phase phase("data loading");
      return FoldData{make_image_set(dataset, fold.train), make_image_set(dataset, fold.val),
                      make_image_set(dataset, fold.test), dataset.class_names};
    }();
    log.message("[fold " + std::to_string(f) + "] " + std::to_string(data.train.size()) + " train, " +
                std::to_string(data.val.size()) + " validation, " + std::to_string(data.test.size()) +
                " test images; mode " + config.mode);
    FoldTrainer trainer = [&] {
      const phases::Phase phase("setup");  // the networks' initial weights, optimizers, folders
      return FoldTrainer(config, std::move(data), request.out, f, log);
    }();
    trainer.stop_after(request.stop_after_steps);
    const nlohmann::json result = fold_json(trainer.run(request.resume), dataset.class_names);
    write_json(fold_path.string(), result);
    results.push_back(result);
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * result.at("accuracy").get<double>());
    log.message("[fold " + std::to_string(f) + "] test accuracy " + accuracy);
  }
  nlohmann::json summary = summarize(config, results, dataset.class_names);
  summary["data"] = data_info;
  summary["run_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary["resumed"] = resuming;
  {
    const phases::Phase phase("report");
    write_json((dir / "summary.json").string(), summary);
    write_report(request.out);
  }
  if (request.profile) finish_profile(request.out, log);
  return summary;
}

}  // namespace fer::train
