#include "train/ablate.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "train/fields.h"
#include "train/metrics.h"
#include "train/protocol.h"
#include "train/report.h"
#include "train/runlog.h"
#include "train/stats.h"

extern char** environ;

namespace fer::train {

namespace fs = std::filesystem;

namespace {

struct Unit {
  std::string mode;
  int64_t repeat = 0, fold = 0;
};

std::vector<std::string> modes_of(const AblateRequest& r) { return r.modes.empty() ? mode_names() : r.modes; }

// The mode the others are compared with: baseline when it runs, else the first one.
std::string reference_mode(const std::vector<std::string>& modes) {
  for (const std::string& m : modes)
    if (m == "baseline") return m;
  return modes.front();
}

bool has_baseline(const AblateRequest& r) {
  const std::vector<std::string> modes = modes_of(r);
  return std::find(modes.begin(), modes.end(), "baseline") != modes.end();
}

// Within a (repeat, fold), baseline first: its recognizer is the judge of the other modes' faces.
std::vector<Unit> units_of(const AblateRequest& r) {
  std::vector<std::string> order;
  if (has_baseline(r)) order.push_back("baseline");
  for (const std::string& m : modes_of(r))
    if (m != "baseline") order.push_back(m);
  std::vector<Unit> units;
  for (int64_t rep = 0; rep < r.repeats; ++rep)
    for (int64_t f = 0; f < r.config.protocol.folds; ++f)
      for (const std::string& m : order) units.push_back({m, rep, f});
  return units;
}

std::string unit_dir(const AblateRequest& r, const Unit& u) {
  return (fs::path(r.out) / u.mode / ("repeat" + std::to_string(u.repeat) + "-fold" + std::to_string(u.fold))).string();
}

TrainConfig unit_config(const AblateRequest& r, const Unit& u) {
  TrainConfig c = r.config;
  c.mode = u.mode;
  c.protocol.fold = u.fold;
  c.seed = r.config.seed + u.repeat;
  if (u.mode != "baseline" && has_baseline(r) && c.judge.checkpoint.empty()) {
    const fs::path judge = fs::path(unit_dir(r, {"baseline", u.repeat, u.fold})) / "checkpoints" /
                           ("fold" + std::to_string(u.fold) + "_best_R.safetensors");
    c.judge.checkpoint = fs::absolute(judge).lexically_normal().string();
  }
  return c;
}

nlohmann::json config_json(TrainConfig config) {
  config.protocol.fold = -1;  // set per unit
  FieldSet fields;
  config.bind(fields);
  return fields.to_json();
}

// The first key (dotted) where two JSON objects differ, or "" when they are equal.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "") {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (!b.contains(it.key())) return key;
      const std::string d = first_difference(it.value(), b.at(it.key()), key);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) return prefix.empty() ? it.key() : prefix + "." + it.key();
    return "";
  }
  return a == b ? "" : (prefix.empty() ? "(the whole value)" : prefix);
}

// Refuses to mix two ablations in one folder, and to resume with other settings.
void check_out_folder(const AblateRequest& r, const nlohmann::json& settings) {
  const fs::path saved = fs::path(r.out) / "ablation.json";
  if (!r.resume) {
    if (fs::exists(r.out) && !fs::is_empty(r.out))
      FER_THROW() << "ablate: " << r.out << " is not empty; continue the ablation there with --resume, or choose another --out";
    return;
  }
  if (!fs::exists(saved))
    FER_THROW() << "ablate --resume: " << saved.string() << " not found: " << r.out
                               << " holds no ablation to continue";
  const std::string diff = first_difference(read_json(saved.string()), settings);
  if (!diff.empty())
    FER_THROW() << "ablate --resume: '" << diff << "' differs from the ablation saved in " << saved.string()
                          << "; resume with the same flags, or start a new ablation in another --out";
}

// Accuracy of a finished unit (its summary.json holds one fold).
nlohmann::json unit_result(const std::string& dir) {
  const nlohmann::json summary = read_json((fs::path(dir) / "summary.json").string());
  FER_CHECK(summary.at("folds").size() == 1) << dir << "/summary.json: expected one fold, found "
                                             << summary.at("folds").size();
  return summary.at("folds").at(0);
}

// The judge's scores of G's faces at the last epoch of stage 1 and of stage 2 (metrics.jsonl).
std::map<std::string, nlohmann::json> last_synthesis(const std::string& dir) {
  std::map<std::string, nlohmann::json> last;
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("synthesis")) last[record.at("stage").get<std::string>()] = record.at("synthesis");
  }
  return last;
}

std::string percent(double v, bool sign = false) {
  char text[32];
  std::snprintf(text, sizeof text, sign ? "%+.2f" : "%.2f", 100 * v);
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The last lines of a unit's train.log, for the error that names a failed unit.
std::string log_tail(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "train.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::string tail = "the end of " + dir + "/train.log:";
  for (size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i) tail += "\n  " + lines[i];
  return tail;
}

// `fer train --resume` on the unit's folder, as a child process with its own thread count.
pid_t spawn_unit(const AblateRequest& r, const Unit& u) {
  const std::string dir = unit_dir(r, u), log = dir + "/train.log";
  std::vector<std::string> args = {r.fer_binary, "train", "--data", r.data, "--out", dir, "--resume"};
  if (r.debug) args.push_back("--debug");
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("OMP_NUM_THREADS=", 0) != 0) env.push_back(*e);
  env.push_back("OMP_NUM_THREADS=" + std::to_string(r.threads_per_job));
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, r.fer_binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  FER_CHECK(rc == 0) << "ablate: cannot start " << r.fer_binary << " for " << dir << ": " << std::strerror(rc);
  return pid;
}

std::string unit_name(const Unit& u) {
  return u.mode + ", repeat " + std::to_string(u.repeat) + ", fold " + std::to_string(u.fold);
}

bool unit_done(const AblateRequest& r, const Unit& u) { return fs::exists(fs::path(unit_dir(r, u)) / "summary.json"); }

// A unit's run folder starts with its config.json, so that every unit, new or half done, is
// continued the same way: `fer train --resume` on its folder.
void write_unit_config(const AblateRequest& r, const Unit& u) {
  const fs::path config = fs::path(unit_dir(r, u)) / "config.json";
  if (fs::exists(config)) return;
  fs::create_directories(config.parent_path());
  FieldSet fields;
  TrainConfig c = unit_config(r, u);
  c.bind(fields);
  write_json(config.string(), fields.to_json());
}

void print_unit_result(const AblateRequest& r, const Unit& u, size_t index, size_t count, double seconds) {
  const double accuracy = unit_result(unit_dir(r, u)).at("accuracy");
  std::fprintf(stderr, "[ablate %zu/%zu] %s: test accuracy %s%% in %.0f s\n", index + 1, count, unit_name(u).c_str(),
               percent(accuracy).c_str(), seconds);
}

// One unit after another in this process (its threads), in the order of units_of.
void run_units_here(const AblateRequest& r, const std::vector<Unit>& units) {
  for (size_t i = 0; i < units.size(); ++i) {
    const Unit& u = units[i];
    const bool done = unit_done(r, u);
    std::fprintf(stderr, "[ablate %zu/%zu] %s: %s\n", i + 1, units.size(), unit_name(u).c_str(),
                 done ? "done, read back" : "training");
    TrainRequest t;
    t.data = r.data;
    t.out = unit_dir(r, u);
    t.resume = true;
    t.quiet = r.quiet;
    t.stop_after_steps = static_cast<int64_t>(i) == r.stop_unit ? r.stop_after_steps : -1;
    const auto start = std::chrono::steady_clock::now();
    run_training(t);
    if (!done) print_unit_result(r, u, i, units.size(), seconds_since(start));
  }
}

constexpr double kStatusSeconds = 60;  // how often --jobs says where its running units stand

// One line: how many units are done, and the stage and epoch each running unit has finished
// (the last record of its metrics.jsonl).
void print_running(const AblateRequest& r, const std::vector<Unit>& units, const std::vector<size_t>& running) {
  size_t done = 0;
  for (const Unit& u : units) done += unit_done(r, u);
  std::ostringstream line;
  line << "[ablate] " << done << "/" << units.size() << " units done; running:";
  for (size_t i : running) {
    std::ifstream in(fs::path(unit_dir(r, units[i])) / "metrics.jsonl");
    std::string last;
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) last = l;
    line << " " << unit_name(units[i]);
    if (last.empty()) {
      line << " (starting);";
      continue;
    }
    const nlohmann::json record = nlohmann::json::parse(last);
    line << " (" << record.at("stage").get<std::string>() << " epoch " << record.at("epoch").get<int64_t>() + 1
         << " done);";
  }
  std::fprintf(stderr, "%s\n", line.str().c_str());
}

// `jobs` units at a time, each a `fer train --resume` child process with threads_per_job OpenMP
// threads and its output in the unit's train.log. A generator unit starts once the baseline unit
// of its (repeat, fold) has finished, because that recognizer is its judge. On Ctrl-C (the
// children get it too, or are sent it) every child checkpoints; then this throws Interrupted.
void run_units_in_processes(const AblateRequest& r, const std::vector<Unit>& units) {
  // Baselines first: they are short and each one makes its fold's other units ready, so the
  // long units can run side by side to the end instead of the last one running alone.
  std::vector<size_t> pending;
  for (size_t i = 0; i < units.size(); ++i)
    if (!unit_done(r, units[i])) pending.push_back(i);
  std::stable_partition(pending.begin(), pending.end(), [&](size_t i) { return units[i].mode == "baseline"; });
  std::fprintf(stderr, "[ablate] %zu of %zu units to train, %lld at a time with %lld thread(s) each\n", pending.size(),
               units.size(), static_cast<long long>(r.jobs), static_cast<long long>(r.threads_per_job));
  auto ready = [&](size_t i) {
    const Unit& u = units[i];
    return u.mode == "baseline" || !has_baseline(r) || unit_done(r, {"baseline", u.repeat, u.fold});
  };
  struct Running {
    size_t unit;
    std::chrono::steady_clock::time_point start;
  };
  std::map<pid_t, Running> running;
  auto running_units = [&](const std::map<pid_t, Running>& children) {
    std::vector<size_t> out;
    for (const auto& [_, c] : children) out.push_back(c.unit);
    return out;
  };
  std::string failure;
  bool forwarded = false;
  auto last_status = std::chrono::steady_clock::now();
  while (!pending.empty() || !running.empty()) {
    const bool stopping = interrupt_requested() || !failure.empty();
    for (auto it = pending.begin(); !stopping && it != pending.end() && static_cast<int64_t>(running.size()) < r.jobs;) {
      if (!ready(*it)) {
        ++it;
        continue;
      }
      const Unit& u = units[*it];
      std::fprintf(stderr, "[ablate %zu/%zu] %s: training (log: %s/train.log)\n", *it + 1, units.size(),
                   unit_name(u).c_str(), unit_dir(r, u).c_str());
      running[spawn_unit(r, u)] = {*it, std::chrono::steady_clock::now()};
      it = pending.erase(it);
    }
    if (running.empty()) break;  // stopping, or (never with a baseline first) nothing ready
    if (interrupt_requested() && !forwarded) {  // a terminal's Ctrl-C reached them already; kill -INT did not
      for (const auto& [pid, _] : running) ::kill(pid, SIGINT);
      forwarded = true;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) {  // none has ended: poll, so that an interrupt is seen, and say where each stands
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (seconds_since(last_status) >= kStatusSeconds) {
        print_running(r, units, running_units(running));
        last_status = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (pid < 0) {
      FER_CHECK(errno == EINTR) << "ablate: waitpid failed: " << std::strerror(errno);
      continue;
    }
    const auto child = running.find(pid);
    if (child == running.end()) continue;
    const Unit& u = units[child->second.unit];
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) {
      print_unit_result(r, u, child->second.unit, units.size(), seconds_since(child->second.start));
    } else if (code != 130 && failure.empty()) {
      failure = unit_name(u) + " failed (exit " + std::to_string(code) + "); " + log_tail(unit_dir(r, u));
    }
    running.erase(child);
  }
  if (!failure.empty()) FER_THROW() << "ablate: " << failure;
  if (interrupt_requested()) throw Interrupted{r.out};
}

}  // namespace

nlohmann::json ablation_settings(const AblateRequest& r) {
  return {{"data", fs::absolute(r.data).lexically_normal().string()},
          {"modes", modes_of(r)},
          {"folds", r.config.protocol.folds},
          {"repeats", r.repeats},
          {"config", config_json(r.config)}};
}

nlohmann::json compare_units(const AblateRequest& r) {
  const std::vector<std::string> modes = modes_of(r);
  const std::string reference = reference_mode(modes);
  std::map<std::string, std::vector<double>> accuracy;
  std::map<std::string, Confusion> pooled;
  std::map<std::string, nlohmann::json> best_epochs;
  std::vector<std::string> classes;
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> synthesis;  // mode, stage, score
  nlohmann::json units = nlohmann::json::array();
  for (const Unit& u : units_of(r)) {
    const nlohmann::json fold = unit_result(unit_dir(r, u));
    classes = fold.at("classes").get<std::vector<std::string>>();
    accuracy[u.mode].push_back(fold.at("accuracy").get<double>());
    const auto rows = fold.at("confusion").get<std::vector<std::vector<int64_t>>>();
    Confusion& c = pooled.try_emplace(u.mode, static_cast<int64_t>(rows.size())).first->second;
    for (size_t t = 0; t < rows.size(); ++t)
      for (size_t p = 0; p < rows.size(); ++p) c.counts[t * rows.size() + p] += rows[t][p];
    if (units.empty() || units.back().at("repeat") != u.repeat || units.back().at("fold") != u.fold)
      units.push_back({{"repeat", u.repeat}, {"fold", u.fold}, {"test_images", fold.at("test_images")}});
    units.back()["accuracy"][u.mode] = fold.at("accuracy");
    units.back()["run"][u.mode] = fs::relative(unit_dir(r, u), r.out).string();
    for (const auto& [stage, scores] : last_synthesis(unit_dir(r, u)))
      for (auto it = scores.begin(); it != scores.end(); ++it)
        if (!it.value().is_null()) synthesis[u.mode][stage][it.key()].push_back(it.value().get<double>());
  }
  nlohmann::json per_mode, paired;
  for (const std::string& m : modes) {
    const std::vector<double>& a = accuracy.at(m);
    const PairedComparison self = paired_comparison(a, std::vector<double>(a.size(), 0.0));  // interval of the mean
    per_mode[m] = {{"mean", mean_of(a)}, {"std", sample_std(a)}, {"ci_low", self.t_low}, {"ci_high", self.t_high},
                   {"accuracies", a}, {"pooled", pooled.at(m).to_json()}};
    for (const auto& [stage, scores] : synthesis[m])
      for (const auto& [name, values] : scores) per_mode[m]["synthesis"][stage][name] = mean_of(values);
    if (m == reference) continue;
    const PairedComparison c = paired_comparison(a, accuracy.at(reference));
    paired[m] = {{"n", c.n},           {"mean_diff", c.mean_diff}, {"sd_diff", c.sd_diff}, {"t_low", c.t_low},
                 {"t_high", c.t_high}, {"boot_low", c.boot_low},   {"boot_high", c.boot_high},
                 {"p_value", c.p_value}, {"wins", c.wins},          {"ties", c.ties},       {"losses", c.losses},
                 {"significant", c.significant()}};
  }
  // Every unit reads the same data with the same settings, so the first one says what the data
  // is and whether the folds are subject-independent.
  const nlohmann::json first = read_json((fs::path(unit_dir(r, units_of(r).front())) / "summary.json").string());
  return {{"reference", reference}, {"modes", modes},         {"folds", r.config.protocol.folds},
          {"repeats", r.repeats},   {"classes", classes},     {"units", units},
          {"per_mode", per_mode},   {"paired", paired},       {"settings", ablation_settings(r)},
          {"subject_independent", first.at("data").at("subject_independent")}, {"data", first.at("data")}};
}

std::string comparison_table(const nlohmann::json& c) {
  const std::string reference = c.at("reference");
  const auto n = c.at("units").size();
  std::ostringstream s;
  char line[256];
  std::snprintf(line, sizeof line, "%-12s %-16s %-19s %-9s %-20s %-20s %s\n", "mode", "test accuracy",
                "95% CI of mean", "diff", "95% CI (paired t)", "95% CI (bootstrap)", "W/T/L");
  s << line;
  for (const std::string m : c.at("modes")) {
    const nlohmann::json& pm = c.at("per_mode").at(m);
    std::snprintf(line, sizeof line, "%-12s %6s%% +- %5s  [%6s, %6s]", m.c_str(), percent(pm.at("mean")).c_str(),
                  percent(pm.at("std")).c_str(), percent(pm.at("ci_low")).c_str(), percent(pm.at("ci_high")).c_str());
    s << line;
    if (c.at("paired").contains(m)) {
      const nlohmann::json& p = c.at("paired").at(m);
      std::snprintf(line, sizeof line, "   %7s   [%7s, %7s]   [%7s, %7s]   %lld/%lld/%lld",
                    percent(p.at("mean_diff"), true).c_str(), percent(p.at("t_low"), true).c_str(),
                    percent(p.at("t_high"), true).c_str(), percent(p.at("boot_low"), true).c_str(),
                    percent(p.at("boot_high"), true).c_str(), static_cast<long long>(p.at("wins").get<int64_t>()),
                    static_cast<long long>(p.at("ties").get<int64_t>()),
                    static_cast<long long>(p.at("losses").get<int64_t>()));
      s << line;
    } else {
      s << "   (reference)";
    }
    s << "\n";
  }
  std::ostringstream judged;
  for (const std::string m : c.at("modes")) {
    const nlohmann::json& pm = c.at("per_mode").at(m);
    if (!pm.contains("synthesis") || !pm.at("synthesis").contains("stage2")) continue;
    const nlohmann::json& j = pm.at("synthesis").at("stage2");
    judged << "judge of " << m << "'s faces (end of stage 2): " << percent(j.at("fidelity_prior"))
           << "% of prior faces and " << percent(j.at("fidelity_transfer"))
           << "% of transfers show their target expression (real faces: " << percent(j.at("judge_real")) << "%)\n";
  }
  if (!judged.str().empty()) s << "\n" << judged.str();
  s << "\nAccuracy in %, mean +- sample std over " << n << " unit(s) (" << c.at("repeats").get<int64_t>()
    << " repeat(s) x " << ablation_folds_text(c) << "); diff: paired difference to "
    << reference << " (points).\n";
  for (const std::string m : c.at("modes")) {
    if (!c.at("paired").contains(m)) continue;
    const nlohmann::json& p = c.at("paired").at(m);
    const bool sig = p.at("significant");
    const double d = p.at("mean_diff");
    s << m << " vs " << reference << ": "
      << (n < 2 ? "one unit, no interval: not significant"
                : sig ? std::string(d > 0 ? "higher" : "lower") + ", significant at 5% (both intervals exclude 0)"
                      : "not significant (an interval includes 0)")
      << "\n";
  }
  return s.str();
}

nlohmann::json run_ablation(const AblateRequest& r) {
  for (const std::string& m : modes_of(r)) parse_mode(m);  // names checked before any training
  FER_CHECK(r.repeats >= 1) << "ablate: --repeats " << r.repeats << " must be at least 1";
  FER_CHECK(r.config.protocol.folds >= 2) << "ablate: --folds " << r.config.protocol.folds << " must be at least 2";
  FER_CHECK(r.config.protocol.kind != "fixed")
      << "ablate: protocol.kind fixed: fer ablate compares the modes over k folds; train the data's own split with "
         "fer train --protocol fixed, or pass --protocol kfold";
  check_device_usable(r.config.device);
  const nlohmann::json settings = ablation_settings(r);
  check_out_folder(r, settings);
  fs::create_directories(r.out);
  write_json((fs::path(r.out) / "ablation.json").string(), settings);

  const std::vector<Unit> units = units_of(r);
  for (const Unit& u : units) write_unit_config(r, u);
  if (r.jobs > 1)
    run_units_in_processes(r, units);
  else
    run_units_here(r, units);
  const nlohmann::json comparison = compare_units(r);
  write_json((fs::path(r.out) / "comparison.json").string(), comparison);
  write_comparison_report(r.out);
  return comparison;
}

}  // namespace fer::train
