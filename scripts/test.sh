#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, builds everything (the CUDA backend
# with nvcc when a toolkit is present, and on the simulator), and runs every test through ctest.
# Tests named "... (cuda)" need a GPU and are excluded here; benchmarks/gpu_check.sh runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
cd "${FER_BUILD_DIR:-build}"
# ctest runs nproc test programs at once, each with nproc OpenMP threads: waiting threads sleep
# instead of spinning on the cores the other programs need (scripts/demo.sh says why).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --output-on-failure -j "$(nproc)" -E '\(cuda\)$' --timeout 900 "$@"
