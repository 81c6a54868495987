// Where a run's time goes (`fer train --profile`): wall and CPU time per phase of the run (data
// loading, batches, forward, backward, optimizer, evaluation, judge, sample grids, checkpoints,
// report, setup), written to RUNDIR/profile.json and the report with the kernel profiler's rows
// (engine/profiler.h).
//
// Phases nest, and time is charged to the innermost open one (exclusive time): a Phase("forward")
// around a step and a Phase("backward") inside it leave "forward" with the step's time minus the
// backward's. Time outside every named phase goes to "other", so the phases of a run add up to
// its time from start() to stop(). CPU time is the process's (every OpenMP and loader thread,
// CLOCK_PROCESS_CPUTIME_ID): on 2 busy threads it is about twice the wall time.
//
// Off by default; then a Phase costs one branch. On a GPU the host runs ahead of the device, so
// the phases there say where the host waits (at .item(), copies back, synchronizations), unless
// the kernel profiler is on too: it waits for the device at every dispatch.
//
// Threading: phases are opened and closed on the one thread that runs the training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fer::train::phases {

struct PhaseTime {
  std::string name;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  int64_t entries = 0;  // how often the phase was opened
};

// Clears the times and starts the clock ("other" is open).
void start();
bool enabled();
// Stops the clock; the phases in order of their first opening, "other" first.
std::vector<PhaseTime> stop();
// Stops the clock and forgets the times (a run that ended in an error).
void cancel();

class Phase {
 public:
  explicit Phase(const char* name);
  ~Phase();
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  bool open_ = false;
};

}  // namespace fer::train::phases
