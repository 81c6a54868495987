// Catch2 v2 main, shared by every test binary.
// Engine-level test binaries run every CUDA-simulator launch with the threads of a block in a
// random order between barriers (seeded by Catch's --rng-seed, default fixed), so that a kernel
// missing a __syncthreads fails here rather than on a GPU. The simulator's own tests (tests/sim/)
// choose their orders themselves.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#ifdef FER_WITH_CUDA_SIM
#include "kernels/sim/sim.h"
#endif

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
#ifdef FER_WITH_CUDA_SIM
  const unsigned seed = session.configData().rngSeed;
  fersim::set_thread_order(fersim::ThreadOrder::Random, seed ? seed : 20261129u);
#endif
  return session.run();
}
