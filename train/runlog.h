// What a training run tells the world while it runs: metrics.jsonl (one JSON object per line,
// appended and flushed as each epoch ends), the progress line on stderr, and Ctrl-C handling.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fer::train {

// Thrown after a Ctrl-C once the checkpoint is saved; `fer train` exits with status 130.
struct Interrupted {
  std::string checkpoint;
};

// Installs a SIGINT handler that only raises a flag; the training loop polls interrupt_requested()
// between steps, so a checkpoint is never written from inside a signal handler.
void install_interrupt_handler();
bool interrupt_requested();
void request_interrupt();  // what the handler does; tests call it directly
void clear_interrupt();

using LossValues = std::vector<std::pair<std::string, double>>;

// The end-of-epoch line a person reads: the epoch's mean losses (4 significant digits), train and
// validation accuracy in % (marked when the validation accuracy is a new best, the epoch model
// selection keeps), the judge's scores of G's faces (train/synthesis.h) and the sample grid, from
// a metrics record; metrics.jsonl keeps the record itself.
std::string epoch_summary(const nlohmann::json& record);

class RunLog {
 public:
  // Appends to `metrics_path` (created if missing); quiet: no progress lines (tests).
  RunLog(std::string metrics_path, bool quiet);
  void write(const nlohmann::json& record);
  // Rewrites metrics.jsonl (atomically) without the records for which `stale` is true: a resumed
  // fold drops what was logged after its checkpoint, so no epoch appears twice.
  void drop_records(const std::function<bool(const nlohmann::json&)>& stale);
  // One progress line, at most every two seconds unless `force`.
  void progress(const std::string& where, int64_t step, int64_t steps, int64_t images_done,
                const LossValues& losses, bool force);
  void start_phase();  // resets the ETA and images/s clock
  void message(const std::string& text) const;

 private:
  std::string path_;
  bool quiet_;
  std::chrono::steady_clock::time_point phase_start_, last_print_;
};

}  // namespace fer::train
