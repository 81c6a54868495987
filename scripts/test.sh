#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, builds everything (the CUDA backend
# with nvcc when a toolkit is present, and on the simulator), and runs every test through ctest.
# Tests named "... (cuda)" need a GPU and are excluded here; benchmarks/gpu_check.sh runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
cd "${FER_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" -E '\(cuda\)$' --timeout 900 "$@"
