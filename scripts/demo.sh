#!/usr/bin/env bash
# The main job (README): installs dependencies, builds, and runs `fer demo`: synthetic faces,
# both training stages, the accuracy table and the image grids, into runs/demo (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
# OpenMP threads that wait for work sleep instead of spinning: on this project's 2-vCPU machines a
# spinning thread slows its partner (stage-2 step, 2 threads: 5.4 s spinning, 3.8 s passive;
# docs/benchmarks.md). Set OMP_WAIT_POLICY yourself to override.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec build/fer demo --out "${1:-runs/demo}"
