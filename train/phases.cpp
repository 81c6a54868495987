#include "train/phases.h"

#include <time.h>

#include <chrono>

#include "kernels/common/error.h"

namespace fer::train::phases {

namespace {

struct Clock {
  bool on = false;
  std::vector<PhaseTime> phases;  // [0] is "other"
  std::vector<size_t> open;       // indices into phases, innermost last
  double wall_mark = 0, cpu_mark = 0;
};

Clock& clock_state() {
  static Clock c;
  return c;
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Charges the time since the last mark to the innermost open phase.
void charge(Clock& c) {
  const double wall = wall_now(), cpu = cpu_now();
  PhaseTime& p = c.phases[c.open.back()];
  p.wall_seconds += wall - c.wall_mark;
  p.cpu_seconds += cpu - c.cpu_mark;
  c.wall_mark = wall;
  c.cpu_mark = cpu;
}

size_t index_of(Clock& c, const char* name) {
  for (size_t i = 0; i < c.phases.size(); ++i)
    if (c.phases[i].name == name) return i;
  c.phases.push_back({name, 0, 0, 0});
  return c.phases.size() - 1;
}

}  // namespace

void start() {
  Clock& c = clock_state();
  c = Clock{};
  c.on = true;
  c.phases.push_back({"other", 0, 0, 1});
  c.open.push_back(0);
  c.wall_mark = wall_now();
  c.cpu_mark = cpu_now();
}

bool enabled() { return clock_state().on; }

void cancel() { clock_state() = Clock{}; }

std::vector<PhaseTime> stop() {
  Clock& c = clock_state();
  FER_CHECK(c.on && c.open.size() == 1) << "phases::stop: " << (c.on ? "a phase is still open" : "not started");
  charge(c);
  c.on = false;
  return c.phases;
}

Phase::Phase(const char* name) {
  Clock& c = clock_state();
  if (!c.on) return;
  charge(c);
  const size_t i = index_of(c, name);
  ++c.phases[i].entries;
  c.open.push_back(i);
  open_ = true;
}

Phase::~Phase() {
  if (!open_) return;
  Clock& c = clock_state();
  charge(c);
  c.open.pop_back();
}

}  // namespace fer::train::phases
