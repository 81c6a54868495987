#!/usr/bin/env bash
# The main job (README): installs dependencies, builds the `fer` command, and runs `fer demo`:
# synthetic faces, both training stages, the accuracy table and the image grids, into runs/demo
# (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --demo
# The demo trains on the CPU: its build (build-demo/) is the `fer` command for the cpu device
# alone, without the tests, the fuzzers, the CUDA simulator and nvcc's kernels, which the test
# command builds into build/.
export FER_BUILD_DIR=${FER_BUILD_DIR:-build-demo}
scripts/build.sh -DFER_BUILD_TESTS=OFF -DFER_WITH_CUDA_SIM=OFF -DFER_WITH_CUDA=OFF
# OpenMP threads that wait for work sleep instead of spinning: on this project's 2-vCPU machines a
# spinning thread slows its partner (stage-2 step, 2 threads: 5.4 s spinning, 3.8 s passive;
# docs/benchmarks.md). Set OMP_WAIT_POLICY yourself to override.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec "$FER_BUILD_DIR/fer" demo --out "${1:-runs/demo}"
