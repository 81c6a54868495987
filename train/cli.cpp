#include "train/cli.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "data/synthetic.h"
#include "engine/checkpoint.h"
#include "engine/ops.h"
#include "kernels/runtime/runtime.h"
#include "models/fesgan.h"
#include "models/recognizer.h"
#include "train/ablate.h"
#include "train/protocol.h"
#include "train/report.h"
#include "train/runlog.h"
#include "train/samples.h"
#include "train/trainer.h"

namespace fer::train {

namespace fs = std::filesystem;

namespace {

// ---- flags -----------------------------------------------------------------------------------

struct Flag {
  std::string name;   // "--out"
  std::string value;  // metavariable ("DIR"); empty for a switch
  std::string help;
  bool repeatable = false;
};

struct Usage {  // a usage error: status 2 and the command's help
  std::string message;
};

struct InterruptReported {};  // a Ctrl-C that the command has explained: status 130

class Parsed {
 public:
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;
  bool has(const std::string& f) const { return values.count(f) > 0; }
  std::string get(const std::string& f, const std::string& fallback = "") const {
    return has(f) ? values.at(f).back() : fallback;
  }
  std::string required(const std::string& f) const {
    if (!has(f)) throw Usage{f + " is required"};
    return get(f);
  }
  int64_t number(const std::string& f, int64_t fallback) const {
    if (!has(f)) return fallback;
    try {
      size_t used = 0;
      const int64_t v = std::stoll(get(f), &used);
      if (used == get(f).size()) return v;
    } catch (const std::exception&) {
    }
    throw Usage{f + ": '" + get(f) + "' is not a whole number"};
  }
};

struct Command {
  std::string name, synopsis, description;
  std::vector<Flag> flags;
  bool positional = false;
  int (*run)(const Parsed&) = nullptr;
};

std::string help_text(const Command& c) {
  std::ostringstream h;
  h << "usage: fer " << c.name << " " << c.synopsis << "\n\n" << c.description << "\n\noptions:\n";
  for (const Flag& f : c.flags) {
    std::string head = f.name + (f.value.empty() ? "" : " " + f.value);
    h << "  " << head << std::string(head.size() < 24 ? 24 - head.size() : 1, ' ') << f.help
      << (f.repeatable ? " (repeatable)" : "") << "\n";
  }
  h << "  --help                  show this help\n";
  return h.str();
}

Parsed parse_flags(const Command& c, const std::vector<std::string>& args) {
  Parsed p;
  std::vector<std::string> names;
  for (const Flag& f : c.flags) names.push_back(f.name);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      if (!c.positional) throw Usage{"unexpected argument '" + a + "'"};
      p.positional.push_back(a);
      continue;
    }
    std::string name = a, value;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) name = a.substr(0, eq), value = a.substr(eq + 1);
    const auto flag = std::find_if(c.flags.begin(), c.flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == c.flags.end()) throw Usage{"unknown flag " + name + suggestion(name, names)};
    if (!flag->value.empty() && eq == std::string::npos) {
      if (i + 1 >= args.size()) throw Usage{name + " needs a value " + flag->value};
      value = args[++i];
    }
    if (flag->value.empty() && eq != std::string::npos) throw Usage{name + " takes no value"};
    if (p.has(name) && !flag->repeatable) throw Usage{name + " given twice"};
    p.values[name].push_back(value);
  }
  return p;
}

// ---- synth-data ------------------------------------------------------------------------------

int cmd_synth_data(const Parsed& p) {
  data::SynthOptions o;
  o.out_dir = p.required("--out");
  o.subjects = static_cast<int>(p.number("--subjects", o.subjects));
  o.per_class = static_cast<int>(p.number("--per-class", o.per_class));
  o.size = static_cast<int>(p.number("--size", o.size));
  o.channels = static_cast<int>(p.number("--channels", o.channels));
  o.seed = static_cast<uint64_t>(p.number("--seed", 0));
  o.threads = static_cast<int>(p.number("--threads", 0));
  const data::SynthSummary s = data::write_synthetic_dataset(o);
  std::printf("wrote %lld images to %s (manifest %s)\n", static_cast<long long>(s.images), o.out_dir.c_str(),
              s.manifest_path.c_str());
  return 0;
}

// ---- train -----------------------------------------------------------------------------------

TrainConfig config_from_flags(const Parsed& p) {
  TrainConfig config;
  FieldSet fields;
  config.bind(fields);
  if (p.has("--config")) {
    std::ifstream in(p.get("--config"));
    FER_CHECK(in.good()) << "cannot read config file " << p.get("--config");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      FER_THROW() << p.get("--config") << ": " << e.what();
    }
    fields.load_json(j, p.get("--config"));
  }
  const std::pair<const char*, const char*> direct[] = {{"--format", "data.format"},   {"--classes", "data.classes"},
                                                        {"--mode", "mode"},            {"--folds", "protocol.folds"},
                                                        {"--fold", "protocol.fold"},   {"--device", "device"},
                                                        {"--subject-pattern", "data.subject_pattern"},
                                                        {"--protocol", "protocol.kind"}};
  for (const auto& [flag, key] : direct)
    if (p.has(flag)) fields.set(key, p.get(flag));
  for (const auto& [flag, key] : {std::pair{"--no-subjects", "data.no_subjects"}, std::pair{"--strict", "data.strict"}})
    if (p.has(flag)) fields.set(key, "true");
  if (p.has("--set"))
    for (const std::string& assignment : p.values.at("--set")) fields.set_assignment(assignment);
  config.validate();
  return config;
}

int cmd_train(const Parsed& p) {
  if (p.has("--help-config")) {
    TrainConfig config;
    FieldSet fields;
    config.bind(fields);
    std::printf("config keys (JSON file with nested objects, or --set key=value):\n%s", fields.help_text().c_str());
    return 0;
  }
  TrainRequest r;
  r.config = config_from_flags(p);
  r.data = p.required("--data");
  r.out = p.get("--out", "runs/" + r.config.mode);
  r.resume = p.has("--resume");
  r.overwrite = p.has("--overwrite");
  if (r.resume && r.overwrite) throw Usage{"--resume and --overwrite exclude each other"};
  r.quiet = p.has("--quiet");
  install_interrupt_handler();
  const nlohmann::json summary = run_training(r);
  std::printf("%s: accuracy %.2f%% +- %.2f%% over %zu fold(s); report: %s/report.html\n", r.config.mode.c_str(),
              100 * summary.at("mean_accuracy").get<double>(), 100 * summary.at("std_accuracy").get<double>(),
              summary.at("folds").size(), r.out.c_str());
  return 0;
}

// ---- ablate ----------------------------------------------------------------------------------

std::vector<std::string> mode_list(const std::string& text) {
  std::vector<std::string> modes;
  std::istringstream in(text);
  std::string m;
  while (std::getline(in, m, ',')) {
    if (m.empty()) continue;
    parse_mode(m);  // throws naming the nearest mode
    FER_CHECK(std::find(modes.begin(), modes.end(), m) == modes.end()) << "--modes: '" << m << "' given twice";
    modes.push_back(m);
  }
  FER_CHECK(!modes.empty()) << "--modes: no mode in '" << text << "'";
  return modes;
}

// run_ablation, with the interruption said for an ablation: every unit keeps its own checkpoint.
nlohmann::json run_ablation_or_report(const AblateRequest& r, const std::string& command) {
  try {
    return run_ablation(r);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "fer %s: interrupted; finished units and every unit's last checkpoint are in %s "
                 "(continue with the same command and --resume)\n", command.c_str(), r.out.c_str());
    throw InterruptReported{};
  }
}

// jobs units at once, sharing this machine's OpenMP threads; children run this very binary.
void set_jobs(AblateRequest& r, int64_t jobs) {
  if (jobs < 1) throw Usage{"--jobs " + std::to_string(jobs) + " must be at least 1"};
  r.jobs = jobs;
  r.threads_per_job = std::max<int64_t>(1, omp_get_max_threads() / jobs);
  r.fer_binary = fs::read_symlink("/proc/self/exe").string();
}

int cmd_ablate(const Parsed& p) {
  AblateRequest r;
  r.config = config_from_flags(p);
  r.data = p.required("--data");
  r.out = p.get("--out", "runs/ablate");
  r.modes = p.has("--modes") ? mode_list(p.get("--modes")) : mode_names();
  r.repeats = p.number("--repeats", 1);
  set_jobs(r, p.number("--jobs", 1));
  r.resume = p.has("--resume");
  r.quiet = p.has("--quiet");
  install_interrupt_handler();
  const nlohmann::json comparison = run_ablation_or_report(r, "ablate");
  std::printf("\n%s\ncomparison: %s/comparison.json, report: %s/report.html\n", comparison_table(comparison).c_str(),
              r.out.c_str(), r.out.c_str());
  return 0;
}

// ---- loading a finished run ------------------------------------------------------------------

int64_t chosen_fold(const Parsed& p, const TrainConfig& config) {
  return p.number("--fold", std::max<int64_t>(0, config.protocol.fold));
}

std::shared_ptr<models::Recognizer> load_recognizer(const std::string& run, const TrainConfig& config, int64_t fold) {
  Generator gen(0);
  auto R = std::make_shared<models::Recognizer>(config.model, gen, 0);
  const std::string path = (fs::path(run) / "checkpoints" / ("fold" + std::to_string(fold) + "_best_R.safetensors")).string();
  load_checkpoint(path, {{{"R", R.get()}}, {}, {}});
  R->to(parse_device(config.device));
  R->eval();
  return R;
}

std::vector<std::string> run_classes(const std::string& run) {
  std::ifstream in(fs::path(run) / "summary.json");
  FER_CHECK(in.good()) << "no summary.json in " << run << ": is it a finished `fer train` run?";
  return nlohmann::json::parse(in).at("classes").get<std::vector<std::string>>();
}

int cmd_eval(const Parsed& p) {
  const std::string run = p.required("--run");
  const TrainConfig config = load_run_config(run);
  if (!p.has("--data")) {  // re-read the run: print the summary and rebuild the report
    write_report(run);
    std::ifstream in(fs::path(run) / "summary.json");
    const nlohmann::json s = nlohmann::json::parse(in);
    std::printf("%s: accuracy %.2f%% +- %.2f%% over %zu fold(s); report: %s/report.html\n",
                s.at("mode").get<std::string>().c_str(), 100 * s.at("mean_accuracy").get<double>(),
                100 * s.at("std_accuracy").get<double>(), s.at("folds").size(), run.c_str());
    return 0;
  }
  // Another dataset: every image, classified by the selected recognizer of the fold (subjects
  // play no part in classifying).
  TrainConfig eval_config = config;
  eval_config.data.no_subjects = true;
  const data::Dataset dataset = load_configured_dataset(eval_config, p.get("--data"));
  FER_CHECK(dataset.class_names == run_classes(run))
      << "eval: the classes of " << p.get("--data") << " differ from those the run was trained on";
  std::vector<int64_t> all(dataset.samples.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const ImageSet set = make_image_set(dataset, all);
  auto R = load_recognizer(run, config, chosen_fold(p, config));
  const Confusion confusion = evaluate_recognizer(*R, set, config.model.classes, parse_device(config.device));
  std::printf("%s\n", confusion.to_json().dump(2).c_str());
  return 0;
}

// ---- generate / classify ---------------------------------------------------------------------

int cmd_generate(const Parsed& p) {
  const std::string run = p.required("--run"), out = p.required("--out");
  const TrainConfig config = load_run_config(run);
  const Device device = parse_device(config.device);
  Generator gen(0);
  auto E = std::make_shared<models::Encoder>(config.model, gen);
  auto G = std::make_shared<models::Decoder>(config.model, gen);
  const int64_t fold = chosen_fold(p, config);
  const std::string path = (fs::path(run) / "checkpoints" / ("fold" + std::to_string(fold) + "_EG.safetensors")).string();
  FER_CHECK(fs::exists(path)) << "generate: " << path << " not found (mode baseline trains no generator)";
  load_checkpoint(path, {{{"E", E.get()}, {"G", G.get()}}, {}, {}});
  E->to(device);
  G->to(device);
  E->eval();
  G->eval();
  Tensor codes;
  if (p.has("--from")) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(p.get("--from")))
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    FER_CHECK(!files.empty()) << "generate: no images in " << p.get("--from");
    const auto n = std::min<size_t>(files.size(), static_cast<size_t>(p.number("--identities", 8)));
    std::vector<Tensor> images;
    for (size_t i = 0; i < n; ++i)
      images.push_back(reshape(data::image_to_tensor(data::load_image(files[i], static_cast<int>(config.model.image_size),
                                                                      static_cast<int>(config.model.channels))),
                               {1, config.model.channels, config.model.image_size, config.model.image_size}));
    NoGradGuard no_grad;
    codes = E->forward(concat(images, 0).to(device));
  } else {
    codes = prior_codes(p.number("--identities", 8), config.model.latent, static_cast<uint64_t>(p.number("--seed", 0)), device);
  }
  const std::vector<data::Image> faces = to_images(expression_sweep(*G, codes, config.model.classes));
  data::write_png(out, data::tile_images(faces, static_cast<int>(config.model.classes)));
  std::printf("wrote %s: %lld identities (rows) x %lld expressions (columns: ", out.c_str(),
              static_cast<long long>(codes.size(0)), static_cast<long long>(config.model.classes));
  const auto classes = run_classes(run);
  for (size_t k = 0; k < classes.size(); ++k) std::printf("%s%s", k ? ", " : "", classes[k].c_str());
  std::printf(")\n");
  return 0;
}

int cmd_classify(const Parsed& p) {
  const std::string run = p.required("--run");
  if (p.positional.empty()) throw Usage{"classify needs at least one IMAGE"};
  const TrainConfig config = load_run_config(run);
  const auto classes = run_classes(run);
  auto R = load_recognizer(run, config, chosen_fold(p, config));
  NoGradGuard no_grad;
  for (const std::string& file : p.positional) {
    const Tensor x = reshape(data::image_to_tensor(data::load_image(file, static_cast<int>(config.model.image_size),
                                                                    static_cast<int>(config.model.channels))),
                             {1, config.model.channels, config.model.image_size, config.model.image_size});
    const std::vector<float> logits = R->forward(x.to(parse_device(config.device))).to_vector();
    const float top = *std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (float l : logits) z += std::exp(l - top);
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    std::printf("%s: %s (%.1f%%)\n", file.c_str(), classes[static_cast<size_t>(best)].c_str(), 100.0 / z);
  }
  return 0;
}

// ---- demo / info -----------------------------------------------------------------------------

// `fer demo`: the chosen recipe (docs/method.md) on rendered faces, sized so that baseline and
// joint-rdbp over every fold train in about 6 minutes on 2 CPU cores; docs/method.md lists the
// measured time and the ablation that chose these values.
constexpr int kDemoSubjects = 24, kDemoPerClass = 4;

TrainConfig demo_config() {
  TrainConfig c;  // the recipe, at 32x32 and with a shorter recognizer stage
  c.model.image_size = 32;
  c.stage2.epochs = 60;
  c.protocol.folds = 5;
  c.sample_identities = 3;
  return c;
}

int cmd_demo(const Parsed& p) {
  const std::string out = p.get("--out", "runs/demo");
  install_interrupt_handler();
  data::SynthOptions synth;
  synth.out_dir = (fs::path(out) / "data").string();
  synth.subjects = kDemoSubjects;
  synth.per_class = kDemoPerClass;
  synth.size = static_cast<int>(demo_config().model.image_size);
  if (!fs::exists(fs::path(synth.out_dir) / "manifest.csv")) {
    std::printf("rendering %d synthetic subjects x 7 expressions x %d images (%dx%d) into %s ...\n", synth.subjects,
                synth.per_class, synth.size, synth.size, synth.out_dir.c_str());
    data::write_synthetic_dataset(synth);
  }
  AblateRequest r;
  r.config = demo_config();
  r.data = synth.out_dir;
  r.out = (fs::path(out) / "ablation").string();
  r.modes = {"baseline", "joint-rdbp"};
  r.resume = p.has("--resume") || fs::exists(fs::path(r.out) / "ablation.json");
  r.quiet = p.has("--quiet");
  set_jobs(r, std::min(2, omp_get_max_threads()));  // two 1-thread units use 2 cores best
  std::printf("training baseline and joint-rdbp on the same %lld subject-independent folds into %s ...\n",
              static_cast<long long>(r.config.protocol.folds), r.out.c_str());
  std::fflush(stdout);
  const nlohmann::json comparison = run_ablation_or_report(r, "demo");
  std::printf("\n%s\nreport: %s/report.html\nsample grids of G: %s/joint-rdbp/repeat0-fold*/samples/\n",
              comparison_table(comparison).c_str(), r.out.c_str(), r.out.c_str());
  return 0;
}

int cmd_info(const Parsed&) {
  std::printf("fer: facial expression synthesis and recognition on a from-scratch C++/CUDA engine\n");
  std::printf("cpu: %d OpenMP threads\n", omp_get_max_threads());
#ifdef FER_WITH_CUDA
  try {
    std::printf("cuda: %s\n", fer::cuda::device_summary().c_str());
  } catch (const std::exception& e) {
    std::printf("cuda: built, but no usable device (%s)\n", e.what());
  }
#else
  std::printf("cuda: not built (configure with a CUDA toolkit)\n");
#endif
#ifdef FER_WITH_CUDA_SIM
  std::printf("cuda-sim: built\n");
#else
  std::printf("cuda-sim: not built (FER_WITH_CUDA_SIM=OFF)\n");
#endif
  std::printf("modes: baseline, synth, joint, joint-intra, joint-rdbp\n");
  return 0;
}

// The flags of a training configuration (config_from_flags), shared by train and ablate, after
// the command's own.
std::vector<Flag> with_config_flags(std::vector<Flag> own) {
  const std::vector<Flag> common = {
      {"--data", "DIR", "dataset folder or CSV file"},
      {"--format", "F", "auto|folder|fer2013|manifest (default auto)"},
      {"--classes", "LIST", "comma-separated class subset, e.g. anger,happiness,surprise (other folders are left out)"},
      {"--subject-pattern", "REGEX", "folder format: group 1 of this regex on a file name is its subject (default ^(S\\d+)_)"},
      {"--no-subjects", "", "the data has no subject IDs: each image is its own group (not subject-independent)"},
      {"--protocol", "P", "kfold, fixed (the data's own split column: manifest split, FER2013 Usage) or auto (default)"},
      {"--strict", "", "unreadable images are errors instead of skipped"},
      {"--config", "FILE", "JSON config file (nested objects: {\"stage1\": {\"lr\": 1e-4}})"},
      {"--folds", "K", "number of subject-independent folds (default 5)"},
      {"--device", "D", "cpu|cuda|cuda-sim (default cpu)"},
      {"--set", "KEY=VALUE", "set one config key", true},
      {"--quiet", "", "no progress lines"}};
  own.insert(own.begin(), common.begin(), common.end());
  return own;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"synth-data", "--out DIR [options]", "Renders the synthetic face dataset (folder per class + manifest.csv).",
       {{"--out", "DIR", "output folder"},
        {"--subjects", "N", "number of subjects (default 24)"},
        {"--per-class", "N", "images per subject and expression (default 6)"},
        {"--size", "S", "image size in pixels (default 64)"},
        {"--channels", "C", "1 gray or 3 RGB (default 1)"},
        {"--seed", "N", "random seed (default 0)"},
        {"--threads", "N", "rendering threads (default: all cores)"}},
       false, cmd_synth_data},
      {"train", "--data DIR [options]",
       "Trains the recognizer with the chosen ablation under the subject-independent k-fold protocol, or on\n"
       "the data's own split (--protocol).\n"
       "Precedence: defaults < --config file < flags < --set. `fer train --help-config` lists the keys.",
       with_config_flags({{"--mode", "M", "baseline|synth|joint|joint-intra|joint-rdbp (default joint-rdbp)"},
                          {"--fold", "I", "run only fold I (default: all)"},
                          {"--out", "RUNDIR", "run folder (default runs/<mode>)"},
                          {"--resume", "", "continue the run in RUNDIR from its last checkpoint"},
                          {"--overwrite", "", "replace the files of an earlier run in RUNDIR (others are kept)"},
                          {"--help-config", "", "list every config key with its default and help"}}),
       false, cmd_train},
      {"ablate", "--data DIR [options]",
       "Trains every mode (or --modes) on the same subject-independent folds and seeds, one run folder per\n"
       "(mode, repeat, fold) under --out, and compares them: mean +- std per mode, the paired difference to\n"
       "baseline with 95% intervals (paired t, bootstrap) and wins/ties/losses, per-class recall;\n"
       "comparison.json and report.html. A killed ablation continues with the same command and --resume.",
       with_config_flags({{"--modes", "LIST", "comma-separated modes (default: baseline,synth,joint,joint-intra,joint-rdbp)"},
                          {"--repeats", "R", "re-draw the split R times with seeds seed..seed+R-1 (default 1)"},
                          {"--jobs", "N", "train N units at once, as child processes sharing the cores (default 1)"},
                          {"--out", "DIR", "ablation folder (default runs/ablate)"},
                          {"--resume", "", "continue the ablation in DIR (the same flags as the first command)"}}),
       false, cmd_ablate},
      {"eval", "--run RUNDIR [--data DIR]",
       "Without --data: prints the run's summary and rebuilds its report. With --data: classifies every\n"
       "image of that dataset with the selected recognizer and prints accuracy, recall and confusion.",
       {{"--run", "RUNDIR", "a finished `fer train` run"},
        {"--data", "DIR", "a dataset with the run's classes"},
        {"--fold", "I", "which fold's recognizer (default 0)"}},
       false, cmd_eval},
      {"generate", "--run RUNDIR --out FILE.png [options]",
       "Writes a grid of generated faces: rows are identities, columns the expressions.",
       {{"--run", "RUNDIR", "a finished run of a mode with a generator"},
        {"--out", "FILE.png", "output image"},
        {"--identities", "N", "rows (default 8)"},
        {"--from", "DIR", "encode the identities from the images in DIR instead of the prior"},
        {"--seed", "N", "seed of the prior identities (default 0)"},
        {"--fold", "I", "which fold's generator (default 0)"}},
       false, cmd_generate},
      {"classify", "--run RUNDIR IMAGE...", "Prints the predicted expression of each image.",
       {{"--run", "RUNDIR", "a finished `fer train` run"}, {"--fold", "I", "which fold's recognizer (default 0)"}},
       true, cmd_classify},
      {"demo", "[--out DIR]",
       "Renders the synthetic faces and runs `fer ablate` on baseline and joint-rdbp over 5 folds with a\n"
       "small configuration (about 6 minutes on 2 CPU cores); prints the comparison with the paired\n"
       "difference and its 95% intervals, and where the report and the sample grids are.",
       {{"--out", "DIR", "output folder (default runs/demo)"},
        {"--resume", "", "continue an interrupted demo (also done when DIR holds one)"},
        {"--quiet", "", "no progress lines"}},
       false, cmd_demo},
      {"info", "", "Prints the build's devices and threads.", {}, false, cmd_info},
  };
  return list;
}

std::string overview() {
  std::ostringstream h;
  h << "usage: fer COMMAND [options]   (fer COMMAND --help for its options)\n\ncommands:\n";
  for (const Command& c : commands()) h << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.synopsis << "\n";
  return h.str();
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(overview().c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::vector<std::string> names;
  for (const Command& c : commands()) names.push_back(c.name);
  const auto command = std::find_if(commands().begin(), commands().end(), [&](const Command& c) { return c.name == args[0]; });
  if (command == commands().end()) {
    std::fprintf(stderr, "fer: unknown command '%s'%s\n\n%s", args[0].c_str(), suggestion(args[0], names).c_str(),
                 overview().c_str());
    return 2;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::fputs(help_text(*command).c_str(), stdout);
    return 0;
  }
  try {
    return command->run(parse_flags(*command, rest));
  } catch (const Usage& u) {
    std::fprintf(stderr, "fer %s: %s\n\n%s", command->name.c_str(), u.message.c_str(), help_text(*command).c_str());
    return 2;
  } catch (const InterruptReported&) {
    return 130;
  } catch (const Interrupted& i) {
    std::fprintf(stderr, "fer %s: interrupted; checkpoint saved to %s (continue with --resume)\n", command->name.c_str(),
                 i.checkpoint.c_str());
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fer %s: error: %s\n", command->name.c_str(), e.what());
    return 1;
  }
}

}  // namespace fer::train
