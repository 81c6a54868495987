#include "train/runlog.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/files.h"
#include "kernels/common/error.h"

namespace fer::train {

namespace {
std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) { g_interrupt.store(true); }

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << "h";
  if (s >= 60) out << (s / 60) % 60 << "m";
  out << s % 60 << "s";
  return out.str();
}
std::string number(double v, const char* format) {
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string percent(const nlohmann::json& v) { return number(100 * v.get<double>(), "%.1f%%"); }
}  // namespace

std::string epoch_summary(const nlohmann::json& r) {
  std::ostringstream line;
  if (r.contains("loss"))
    for (auto it = r["loss"].begin(); it != r["loss"].end(); ++it)
      line << (it == r["loss"].begin() ? "" : " ") << it.key() << " " << number(it.value().get<double>(), "%.4g");
  if (r.contains("val_accuracy"))
    line << " | accuracy train " << percent(r["train_accuracy"]) << ", validation " << percent(r["val_accuracy"])
         << (r.value("new_best", false) ? " (new best)" : "");
  if (r.contains("synthesis")) {
    const nlohmann::json& s = r["synthesis"];
    line << " | judge: transfers " << percent(s["fidelity_transfer"]) << ", prior faces " << percent(s["fidelity_prior"])
         << " (real faces " << percent(s["judge_real"]) << ")";
    if (!s["identity"].is_null())
      line << ", identity " << number(s["identity"], "%.2f") << " (unrelated " << number(s["identity_unrelated"], "%.2f")
           << ")";
    line << ", reconstruction " << number(s["reconstruction"], "%.3f") << ", diversity "
         << number(s["diversity"], "%.3f") << " (real " << number(s["diversity_real"], "%.3f") << ")";
  }
  if (r.contains("samples")) line << " | " << r["samples"].get<std::string>();
  return line.str();
}

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }
bool interrupt_requested() { return g_interrupt.load(); }
void request_interrupt() { g_interrupt.store(true); }
void clear_interrupt() { g_interrupt.store(false); }

RunLog::RunLog(std::string metrics_path, bool quiet) : path_(std::move(metrics_path)), quiet_(quiet) {
  start_phase();
}

void RunLog::write(const nlohmann::json& record) {
  std::ofstream out(path_, std::ios::app);
  out << record.dump() << "\n";
  out.flush();
  FER_CHECK(out.good()) << "cannot append to " << path_;
}

void RunLog::drop_records(const std::function<bool(const nlohmann::json&)>& stale) {
  std::ifstream in(path_);
  if (!in.good()) return;  // nothing logged yet
  std::string kept, line;
  int64_t dropped = 0;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    FER_CHECK(!record.is_discarded()) << path_ << ", line " << number << ": not a JSON object";
    if (stale(record)) {
      ++dropped;
    } else {
      kept += line + "\n";
    }
  }
  in.close();
  if (dropped > 0) write_file_atomically(path_, kept);
}

void RunLog::start_phase() { phase_start_ = last_print_ = std::chrono::steady_clock::now(); }

void RunLog::progress(const std::string& where, int64_t step, int64_t steps, int64_t images_done,
                      const LossValues& losses, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (quiet_ || (!force && now - last_print_ < std::chrono::seconds(2))) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - phase_start_).count();
  const double per_step = step > 0 ? elapsed / static_cast<double>(step) : 0.0;
  std::ostringstream line;
  line << where << " step " << step << "/" << steps << " ETA "
       << duration_text(per_step * static_cast<double>(steps - step)) << " |";
  for (const auto& [name, value] : losses) line << " " << name << "=" << value;
  line << " | " << static_cast<int64_t>(elapsed > 0 ? static_cast<double>(images_done) / elapsed : 0.0) << " img/s";
  std::fprintf(stderr, "%s\n", line.str().c_str());
}

void RunLog::message(const std::string& text) const {
  if (!quiet_) std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace fer::train
