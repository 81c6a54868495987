#!/usr/bin/env bash
# The main job (README): installs dependencies, builds, and runs `fer demo`: synthetic faces,
# both training stages, the accuracy table and the image grids, into runs/demo (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
exec build/fer demo --out "${1:-runs/demo}"
