// Catch2 v2 main, shared by every test binary.
// Engine-level test binaries run every CUDA-simulator launch with the threads of a block in a
// random order between barriers (seeded by Catch's --rng-seed, default fixed), so that a kernel
// missing a __syncthreads fails here rather than on a GPU. The simulator's own tests (tests/sim/)
// choose their orders themselves. Two options set the simulated device for a whole run (ctest runs
// the [cuda-sim] tests once more with both, see CMakeLists.txt):
//   --sim-workers N           OS threads that run the blocks of a grid (default 1)
//   --sim-multiprocessors N   the multiprocessor count the device reports (default: the simulator's)
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#ifdef FER_WITH_CUDA_SIM
#include "kernels/sim/sim.h"
#endif

int main(int argc, char* argv[]) {
  Catch::Session session;
#ifdef FER_WITH_CUDA_SIM
  int sim_workers = 1, sim_multiprocessors = 0;
  session.cli(session.cli() |
              Catch::clara::Opt(sim_workers, "count")["--sim-workers"]("simulator: OS threads that run the blocks") |
              Catch::clara::Opt(sim_multiprocessors, "count")["--sim-multiprocessors"](
                  "simulator: the device's multiprocessor count"));
#endif
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
#ifdef FER_WITH_CUDA_SIM
  const unsigned seed = session.configData().rngSeed;
  fersim::set_thread_order(fersim::ThreadOrder::Random, seed ? seed : 20261129u);
  fersim::set_worker_threads(sim_workers);
  if (sim_multiprocessors > 0) fersim::set_multiprocessor_count(sim_multiprocessors);
#endif
  return session.run();
}
